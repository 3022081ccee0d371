/// Writes JSON in one fixed form, so equal data gives equal bytes: object keys sorted by
/// their UTF-8 bytes, no spaces, non-ASCII written as UTF-8, numbers in Swift's shortest
/// round-tripping form.
public enum CanonicalJSON {
    /// A JSON string literal for `s`.
    public static func string(_ s: String) -> String {
        // Most strings (ids, names, dates) need no escape: copy them whole.
        if !needsEscape(s) { return "\"" + s + "\"" }
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Appends the JSON string literal for `s` (the bytes of ``string(_:)``).
    public static func append(string s: String, to out: inout [UInt8]) {
        if !needsEscape(s) {
            out.append(0x22)
            out.append(contentsOf: s.utf8)
            out.append(0x22)
        } else {
            out.append(contentsOf: string(s).utf8)
        }
    }

    /// Whether `s` holds a byte that a JSON string must escape (a quote, a backslash, a control
    /// character); straight over the bytes when the string has them contiguous.
    static func needsEscape(_ s: String) -> Bool {
        func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            for b in bytes where b < 0x20 || b == 0x22 || b == 0x5C { return true }
            return false
        }
        return s.utf8.withContiguousStorageIfAvailable(scan) ?? s.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
    }

    /// Appends the JSON literal for a stored value of a field (the bytes of ``value(_:kind:)``).
    public static func append(value v: Value, kind: FieldKind, to out: inout [UInt8]) {
        if case .text(let s) = v { append(string: s, to: &out) } else { out.append(contentsOf: value(v, kind: kind).utf8) }
    }

    /// A JSON literal for a stored value of a field: booleans as true/false, numbers as numbers,
    /// everything else as strings.
    public static func value(_ v: Value, kind: FieldKind) -> String {
        switch (v, kind) {
        case (.null, _): return "null"
        case (.integer(let i), .bool): return i == 0 ? "false" : "true"
        case (.integer(let i), _): return String(i)
        case (.real(let d), _): return Value.format(d)
        case (.text(let s), _): return string(s)
        }
    }

    /// An object from already-encoded members, sorted by key.
    public static func object(_ members: [(String, String)]) -> String {
        let sorted = members.sorted { utf8Less($0.0, $1.0) }
        return "{" + sorted.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}

/// Orders strings by their UTF-8 bytes: the same on every machine and locale.
func utf8Less(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
