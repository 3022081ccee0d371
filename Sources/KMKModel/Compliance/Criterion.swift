/// One criterion of a criteria set (SPEC.md §12): what it judges, by which rule, with which
/// parameters, in Swedish and English.
public struct Criterion: Hashable, Sendable {
    /// What a criterion judges.
    public enum Scope: String, Codable, Hashable, Sendable {
        case venue
        case municipality
    }

    /// The record id.
    public var id: String
    /// A short stable code, e.g. `venue.agreement`.
    public var code: String
    public var scope: Scope
    /// The rule kind, e.g. `agreement_valid` (see ``Rule``).
    public var rule: String
    /// The rule's parameters.
    public var params: RuleParams
    public var textSV: String
    public var textEN: String
    /// Must be met for green status (otherwise recommended).
    public var mandatory: Bool

    public init(id: String, code: String, scope: Scope, rule: String, params: RuleParams = RuleParams(),
                textSV: String, textEN: String, mandatory: Bool = true) {
        self.id = id
        self.code = code
        self.scope = scope
        self.rule = rule
        self.params = params
        self.textSV = textSV
        self.textEN = textEN
        self.mandatory = mandatory
    }

    /// Reads a `criterion` record. Throws when a required field is missing or the parameters
    /// are not a JSON object.
    public init(record: Record) throws(ModelError) {
        func text(_ name: String) throws(ModelError) -> String {
            guard let t = record[name].text, !t.isEmpty else {
                throw ModelError(.missingField, "criterion \(record.id) has no \(name)")
            }
            return t
        }
        let scopeText = try text("scope")
        guard let scope = Scope(rawValue: scopeText) else {
            throw ModelError(.invalidValue, "criterion \(record.id) has scope '\(scopeText)'; allowed: venue, municipality")
        }
        let params: RuleParams
        if let json = record["params"].text, !json.isEmpty {
            params = try RuleParams(json: json, criterion: record.id)
        } else {
            params = RuleParams()
        }
        self.init(id: record.id, code: try text("code"), scope: scope, rule: try text("rule"), params: params,
                  textSV: record["text_sv"].text ?? "", textEN: record["text_en"].text ?? "",
                  mandatory: (record["mandatory"].integer ?? 1) != 0)
    }

    /// The fields of a `criterion` record for this criterion in set `setID`.
    public func fields(setID: String) -> [String: Value] {
        var f: [String: Value] = [
            "criteria_set": .text(setID), "code": .text(code), "scope": .text(scope.rawValue), "rule": .text(rule),
            "text_sv": .text(textSV), "text_en": .text(textEN), "mandatory": .integer(mandatory ? 1 : 0),
        ]
        if !params.isEmpty { f["params"] = .text(params.json) }
        return f
    }
}
