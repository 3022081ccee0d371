/// What a field holds, and so how it is stored, validated, printed and parsed.
public enum FieldKind: Hashable, Sendable {
    /// Free text up to `maxLength` characters.
    case text(maxLength: Int)
    /// A whole number within `min...max`.
    case integer(min: Int64, max: Int64)
    /// A decimal number.
    case real
    /// Yes or no, stored as 0 or 1.
    case bool
    /// A calendar date, ISO 8601 `YYYY-MM-DD`.
    case date
    /// One of a fixed list of words.
    case choice([String])
    /// Any subset of a fixed list of words, stored sorted and comma-separated.
    case set([String])
    /// The id of a record of another entity.
    case reference(String)
    /// A reporting period: `YYYY`, `YYYY-MM` or `YYYY-Qn`.
    case period
    /// A Swedish organisation number, `NNNNNN-NNNN`, with a valid check digit.
    case orgNumber

    /// The SQLite column type in a STRICT table.
    public var sqlType: String {
        switch self {
        case .integer, .bool: return "INTEGER"
        case .real: return "REAL"
        default: return "TEXT"
        }
    }

    /// A short description of what is allowed, for error messages and help.
    public var allowed: String {
        switch self {
        case .text(let max): return "text of at most \(max) characters"
        case .integer(let min, let max):
            return max == Int64.max ? "a whole number from \(min)" : "a whole number from \(min) to \(max)"
        case .real: return "a number such as 12.5"
        case .bool: return "yes or no (also true/false, ja/nej, 1/0)"
        case .date: return "a date YYYY-MM-DD"
        case .choice(let words): return "one of: " + words.joined(separator: ", ")
        case .set(let words): return "a comma-separated list of: " + words.joined(separator: ", ")
        case .reference(let entity): return "the id of a \(entity)"
        case .period: return "a period YYYY, YYYY-MM or YYYY-Qn"
        case .orgNumber: return "an organisation number NNNNNN-NNNN"
        }
    }
}
