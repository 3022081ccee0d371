/// A criterion's parameters: a flat JSON object of numbers, booleans, strings and string lists,
/// e.g. `{"months":12,"day_and_night":true}`.
public struct RuleParams: Hashable, Sendable {
    /// One parameter value.
    public enum Item: Hashable, Sendable {
        case number(Double)
        case bool(Bool)
        case string(String)
        case strings([String])
    }

    public private(set) var items: [String: Item]

    public init(_ items: [String: Item] = [:]) { self.items = items }

    /// Parses the `params` field of a criterion record.
    public init(json: String, criterion: String) throws(ModelError) {
        let parsed: JSONValue
        do { parsed = try JSONValue.parse(json) } catch {
            throw ModelError(.invalidValue, "criterion \(criterion): params is not valid JSON (\(error))")
        }
        guard case .object(let members) = parsed else {
            throw ModelError(.invalidValue, "criterion \(criterion): params must be a JSON object, not \(parsed.typeName)")
        }
        var items: [String: Item] = [:]
        for m in members {
            switch m.value {
            case .number(let s):
                guard let d = Double(s) else {
                    throw ModelError(.invalidValue, "criterion \(criterion): params.\(m.key) is not a number")
                }
                items[m.key] = .number(d)
            case .bool(let b): items[m.key] = .bool(b)
            case .string(let s): items[m.key] = .string(s)
            case .array(let a):
                let strings = a.compactMap(\.stringValue)
                guard strings.count == a.count else {
                    throw ModelError(.invalidValue, "criterion \(criterion): params.\(m.key) must be a list of strings")
                }
                items[m.key] = .strings(strings)
            default:
                throw ModelError(.invalidValue, "criterion \(criterion): params.\(m.key) must be a number, true/false, "
                    + "a string or a list of strings, not \(m.value.typeName)")
            }
        }
        self.items = items
    }

    public var isEmpty: Bool { items.isEmpty }

    public func number(_ key: String, _ fallback: Double) -> Double {
        if case .number(let d)? = items[key] { return d }
        return fallback
    }

    public func int(_ key: String, _ fallback: Int) -> Int {
        if case .number(let d)? = items[key], d.isFinite, abs(d) < 1e9 { return Int(d) }
        return fallback
    }

    public func bool(_ key: String, _ fallback: Bool) -> Bool {
        if case .bool(let b)? = items[key] { return b }
        return fallback
    }

    public func string(_ key: String) -> String? {
        if case .string(let s)? = items[key] { return s }
        return nil
    }

    public func strings(_ key: String) -> [String] {
        switch items[key] {
        case .strings(let a)?: return a
        case .string(let s)?: return [s]
        default: return []
        }
    }

    /// The canonical JSON form: keys sorted, no spaces.
    public var json: String {
        let members = items.keys.sorted().map { key -> (String, String) in
            let text: String
            switch items[key]! {
            case .number(let d): text = d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
            case .bool(let b): text = b ? "true" : "false"
            case .string(let s): text = CanonicalJSON.string(s)
            case .strings(let a): text = "[" + a.map(CanonicalJSON.string).joined(separator: ",") + "]"
            }
            return (key, text)
        }
        return CanonicalJSON.object(members)
    }
}
