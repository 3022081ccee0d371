import Foundation

extension FieldSpec {
    /// Reads a value written by a person (command line, CSV cell) into its stored form.
    ///
    /// An empty string means NULL. Errors name the field and what is allowed.
    public func parse(_ input: String) throws(ModelError) -> Value {
        let s = Self.isTrimmed(input) ? input : input.trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return .null }
        switch kind {
        case .text(let max):
            try checkText(input, max: max)
            return .text(input)
        case .integer(let min, let max):
            guard let i = Int64(s), i >= min, i <= max else { throw invalid(input) }
            return .integer(i)
        case .real:
            guard let d = Double(s.replacingOccurrences(of: ",", with: ".")), d.isFinite else { throw invalid(input) }
            return .real(d)
        case .bool:
            switch s.lowercased() {
            case "yes", "true", "ja", "1", "y", "j": return .integer(1)
            case "no", "false", "nej", "0", "n": return .integer(0)
            default: throw invalid(input)
            }
        case .date:
            guard let d = ISODate(s) else { throw invalid(input) }
            return .text(d.description)
        case .choice(let words):
            guard words.contains(s) else { throw invalid(input) }
            return .text(s)
        case .set(let words):
            let parts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for p in parts where !words.contains(p) { throw invalid(input, "'\(p)' is not allowed") }
            return .text(Set(parts).sorted().joined(separator: ","))
        case .reference:
            guard RecordID.isValid(s) else { throw invalid(input, "it is not a record id") }
            return .text(s.lowercased())
        case .period:
            guard Self.isPeriod(s) else { throw invalid(input) }
            return .text(s)
        case .orgNumber:
            guard let o = Self.canonicalOrgNumber(s) else { throw invalid(input, "the check digit is wrong or the form") }
            return .text(o)
        }
    }

    /// Checks a value that arrived already typed (from JSON, a change or the database).
    /// Returns the value in its stored form. NULL is valid only in a field that is not required.
    public func check(_ value: Value) throws(ModelError) -> Value {
        switch (kind, value) {
        case (_, .null):
            try refuseNull()
            return .null
        case (.integer(let min, let max), .integer(let i)):
            guard i >= min, i <= max else { throw invalid(String(i)) }
            return value
        case (.bool, .integer(let i)):
            guard i == 0 || i == 1 else { throw invalid(String(i)) }
            return value
        case (.real, .real(let d)):
            guard d.isFinite else { throw invalid(String(d)) }
            return value
        case (.real, .integer(let i)):
            return .real(Double(i))
        case (.text(let max), .text(let s)):
            try checkText(s, max: max)
            return value
        case (.date, .text(let s)):
            // Fast paths (imports check every value): a value already in its stored form is
            // returned as it is; anything else goes through parse for the exact message.
            if let d = ISODate(s), d.description == s { return value }
            return try checkParsed(value)
        case (.choice(let words), .text(let s)):
            if words.contains(s) { return value }
            return try checkParsed(value)
        case (.reference, .text(let s)):
            if RecordID.isValid(s), !s.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) { return value }
            return try checkParsed(value)
        case (.period, .text(let s)):
            if Self.isPeriod(s) { return value }
            return try checkParsed(value)
        case (.orgNumber, .text(let s)):
            if Self.canonicalOrgNumber(s) == s { return value }
            return try checkParsed(value)
        case (.set, .text):
            return try checkParsed(value)
        default:
            throw ModelError(.invalidValue, "field '\(name)' got \(value.typeName); it takes \(kind.allowed)")
        }
    }

    /// A text value is valid when parsing it gives it back unchanged.
    private func checkParsed(_ value: Value) throws(ModelError) -> Value {
        switch value {
        case .text:
            let parsed = try parse(value.text!)
            guard parsed == value else { throw invalid(value.text!, "write it as \(parsed)") }
            return value
        default:
            throw ModelError(.invalidValue, "field '\(name)' got \(value.typeName); it takes \(kind.allowed)")
        }
    }

    /// The value as a person reads it: dates as dates, booleans as yes/no, NULL as empty.
    public func display(_ value: Value) -> String {
        switch (kind, value) {
        case (_, .null): return ""
        case (.bool, .integer(let i)): return i == 0 ? "no" : "yes"
        default: return value.description
        }
    }

    /// Whether `s` starts and ends with an ASCII character other than a space or a tab, so that
    /// trimming `.whitespaces` would leave it as it is: a cheap test that spares most values
    /// Foundation's trimming (every change an apply checks goes through ``parse(_:)``).
    static func isTrimmed(_ s: String) -> Bool {
        guard let first = s.utf8.first, let last = s.utf8.last else { return false }
        func plain(_ b: UInt8) -> Bool { b < 0x80 && b != 0x20 && b != 0x09 }
        return plain(first) && plain(last)
    }

    func invalid(_ input: String, _ why: String? = nil) -> ModelError {
        var message = "field '\(name)': '\(input)' is not valid"
        if let why { message += " (\(why))" }
        message += "; allowed: \(kind.allowed)"
        return ModelError(.invalidValue, message)
    }

    static func isPeriod(_ s: String) -> Bool {
        let c = Array(s.utf8)
        func digit(_ i: Int) -> Bool { c[i] >= 48 && c[i] <= 57 }
        guard c.count == 4 || c.count == 7, (0..<4).allSatisfy(digit) else { return false }
        if c.count == 4 { return true }
        guard c[4] == UInt8(ascii: "-") else { return false }
        if c[5] == UInt8(ascii: "Q") { return c[6] >= UInt8(ascii: "1") && c[6] <= UInt8(ascii: "4") }
        guard digit(5), digit(6) else { return false }
        let month = Int(c[5] - 48) * 10 + Int(c[6] - 48)
        return month >= 1 && month <= 12
    }

    /// `NNNNNN-NNNN` with a valid Luhn check digit, from 10 digits with or without a dash
    /// (or 12 digits with a century prefix 16).
    static func canonicalOrgNumber(_ s: String) -> String? {
        var digits = s.filter { $0 != "-" && $0 != " " }
        if digits.count == 12, digits.hasPrefix("16") { digits = String(digits.dropFirst(2)) }
        guard digits.count == 10, digits.allSatisfy(\.isASCIIDigit) else { return nil }
        let values = digits.compactMap { $0.wholeNumberValue }
        var sum = 0
        for (i, v) in values.enumerated() {
            let w = i % 2 == 0 ? v * 2 : v
            sum += w > 9 ? w - 9 : w
        }
        guard sum % 10 == 0 else { return nil }
        return String(digits.prefix(6)) + "-" + String(digits.suffix(4))
    }
}

extension Value {
    /// A word for the value's type, for error messages.
    var typeName: String {
        switch self {
        case .null: return "NULL"
        case .integer: return "a whole number"
        case .real: return "a decimal number"
        case .text: return "text"
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
