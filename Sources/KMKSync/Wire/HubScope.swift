import KMKModel

/// What a hub token may do (SPEC.md §11.2).
///
/// - A municipality token reads and writes its own municipality's records and reads national
///   reference data.
/// - The styrgrupp token reads everything and writes national reference data only.
public enum HubScope: Hashable, Sendable, CustomStringConvertible {
    case municipality(String)
    case styrgrupp

    /// The form stored in the hub's token table: a kommunkod or `styrgrupp`.
    public var text: String {
        switch self {
        case .municipality(let code): code
        case .styrgrupp: "styrgrupp"
        }
    }

    public init?(text: String) {
        if text == "styrgrupp" {
            self = .styrgrupp
        } else if Municipality.byCode[text] != nil {
            self = .municipality(text)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .municipality(let code): "municipality \(Municipality.byCode[code]?.description ?? code)"
        case .styrgrupp: "the styrgrupp"
        }
    }

    /// Whether this scope may write a change for a record of `municipality` (nil: national data).
    public func mayWrite(municipality: String?) -> Bool {
        switch (self, municipality) {
        case (.municipality(let own), let m?): m == own
        case (.municipality, nil): false
        case (.styrgrupp, nil): true
        case (.styrgrupp, _?): false
        }
    }

    /// Whether this scope may read records of `municipality` (nil: national data).
    public func mayRead(municipality: String?) -> Bool {
        switch (self, municipality) {
        case (.municipality(let own), let m?): m == own
        case (_, nil): true
        case (.styrgrupp, _?): true
        }
    }

    /// Why a write is refused, for the 403 message.
    public func refusal(for change: Change) -> String {
        let whose = change.municipality.map { "municipality \(Municipality.byCode[$0]?.description ?? $0)" } ?? "national reference data"
        switch self {
        case .municipality(let own):
            let remedy = change.municipality == nil
                ? "National reference data is published by the styrgrupp; remove the change and push again"
                : "Use the replica of that municipality with its own token"
            return "this token is for \(Municipality.byCode[own]?.description ?? own) and may not write \(whose) "
                + "(\(change.entity) \(change.id)); nothing in the batch was written. " + remedy
        case .styrgrupp:
            return "the styrgrupp token writes national reference data only, not \(whose) (\(change.entity) "
                + "\(change.id)); nothing in the batch was written. A municipality's records are written with "
                + "its own token"
        }
    }
}
