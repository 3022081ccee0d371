/// How one criterion came out for one venue or municipality on the report date.
///
/// `unknown` means the data needed to judge is missing; it is never counted as met.
public enum Outcome: String, Codable, Hashable, Sendable {
    case met
    case notMet = "not_met"
    case unknown

    /// The word used in tables.
    public var word: String {
        switch self {
        case .met: "met"
        case .notMet: "not met"
        case .unknown: "unknown"
        }
    }
}

/// One criterion's result, with its reason in words.
public struct CriterionResult: Codable, Hashable, Sendable {
    /// The criterion's code, e.g. `venue.agreement`.
    public var code: String
    /// The criterion's text in English.
    public var text: String
    /// Whether the criterion must be met (otherwise it is recommended).
    public var mandatory: Bool
    public var outcome: Outcome
    /// Why, e.g. "agreement expired 2016-04-30" or "3 of 12 staff trained (25%, needs 80%)".
    public var reason: String

    public init(code: String, text: String, mandatory: Bool, outcome: Outcome, reason: String) {
        self.code = code
        self.text = text
        self.mandatory = mandatory
        self.outcome = outcome
        self.reason = reason
    }
}
