/// One stored field value: what a SQLite column and a change carry.
///
/// Booleans are stored as `integer` 0 or 1; dates, periods, sets and references as `text`.
/// The field's ``FieldKind`` says how to read and write the value in words.
public enum Value: Hashable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    /// True for `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The text, if this is a text value.
    public var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }

    /// The integer, if this is an integer value.
    public var integer: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    /// The number as a Double, for integer and real values.
    public var number: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .real(let d): return d
        default: return nil
        }
    }
}

extension Value: CustomStringConvertible {
    /// A short human form: `NULL`, `42`, `3.5`, or the text itself.
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let i): return String(i)
        case .real(let d): return Value.format(d)
        case .text(let s): return s
        }
    }

    /// Formats a Double so that it reads back to the same value, with no locale.
    static func format(_ d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 {
            return String(Int64(d)) + ".0"
        }
        return String(d)
    }
}
