import KMKModel
import KMKReplica

/// Random local edits for property tests: create, update, delete and restore on every municipal
/// entity, biased towards a few entities and fields so that replicas often edit the same things.
public enum RandomEdits {
    public static let editable: [EntitySpec] = Schema.current.entities.filter { $0.scope == .municipal }

    package static func edit(_ r: Replica, _ rng: inout SplitMix64) throws {
        // Bias towards a few entities and fields so that replicas often edit the same things.
        let e: EntitySpec
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<4: e = .venue
        case 4..<6: e = .municipality
        default: e = Self.editable.randomElement(using: &rng)!
        }
        let alive = try r.records(e.name).map(\.id)
        let deleted = try r.deletedIDs(e.name)
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<3 where e.identity == .random:
            var fields: [String: Value] = [:]
            for f in e.fields {
                if f.required || Bool.random(using: &rng) {
                    guard let v = try Self.randomValue(f, r, &rng, required: f.required) else { return }
                    fields[f.name] = v
                }
            }
            try r.insert(e.name, id: RecordID.make(using: &rng), fields: fields)
        case 3..<7:
            guard let id = alive.randomElement(using: &rng) else { return }
            let f = Bool.random(using: &rng) ? e.fields.prefix(3).randomElement(using: &rng)! : e.fields.randomElement(using: &rng)!
            guard let v = try Self.randomValue(f, r, &rng, required: f.required) else { return }
            try r.update(e.name, id: id, fields: [f.name: v])
        case 7..<9 where e.identity == .random:
            guard let id = alive.randomElement(using: &rng) else { return }
            try r.delete(e.name, id: id)
        default:
            guard let id = deleted.randomElement(using: &rng) else { return }
            try r.restore(e.name, id: id)
        }
    }

    public static let texts = ["", "Krogen Åkerö", "ÄÖÅ äöå", "Nattklubb 🦉🍸", "x", "Δ \"quoted\" \\ back", "rad 1\nrad 2"]

    package static func randomValue(_ f: FieldSpec, _ r: Replica, _ rng: inout SplitMix64, required: Bool) throws -> Value? {
        if !required, Int.random(in: 0..<6, using: &rng) == 0 { return .null }
        switch f.kind {
        case .text: return .text(Self.texts.randomElement(using: &rng)!)
        case .integer(let lo, let hi): return .integer(Int64.random(in: lo...min(hi, lo + 500), using: &rng))
        case .real: return .real([0.1, -2.5, 1e-7, 12.0, 3.141592653589793, 1e20].randomElement(using: &rng)!)
        case .bool: return .integer(Int64.random(in: 0...1, using: &rng))
        case .date:
            return .text(ISODate("2015-01-01")!.adding(days: Int.random(in: 0..<3650, using: &rng)).description)
        case .choice(let words): return .text(words.randomElement(using: &rng)!)
        case .set(let words):
            let chosen = words.filter { _ in Bool.random(using: &rng) }.sorted()
            return chosen.isEmpty ? .null : .text(chosen.joined(separator: ","))
        case .reference(let target):
            return try r.records(target).randomElement(using: &rng).map { .text($0.id) }
        case .period: return .text(["2024", "2024-03", "2023-Q4"].randomElement(using: &rng)!)
        case .orgNumber: return .text(["556036-0793", "212000-0142"].randomElement(using: &rng)!)
        }
    }
}
