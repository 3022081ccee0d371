extension JSONValue {
    /// The value as compact JSON text: members in their order, numbers exactly as they were
    /// written, strings escaped as ``CanonicalJSON/string(_:)`` does. What a replica keeps of a
    /// change it set aside (SPEC.md §6), so that it can be read again later.
    public var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return CanonicalJSON.string(s)
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.map { CanonicalJSON.string($0.key) + ":" + $0.value.text }.joined(separator: ",") + "}"
        }
    }
}
