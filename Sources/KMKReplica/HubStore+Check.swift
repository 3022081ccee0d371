import KMKModel
import KMKSync

/// A value the hub holds that the field rule refuses (SPEC.md §1, "Values"; §11.7): accepted by a
/// hub older than the one rule (issue 24), or written into the store by other means. A replica
/// refuses such a value when it pulls it, so the record's municipality cannot finish a pull until
/// a newer, valid write replaces it.
public struct HubFinding: Hashable, Sendable {
    /// The record's municipality (kommunkod), nil for national reference data.
    public var municipality: String?
    public var entity: String
    public var id: String
    public var field: String
    /// What is wrong, in the field rule's words.
    public var why: String
    /// What makes it storable.
    public var fix: String
    /// Whether replicas refuse it on pull (a stored value the rule refuses), so that the
    /// municipality's pulls stop at it; false for a record with no value at all for a required
    /// field, which replicas take but which breaks the rule.
    public var blocksPulls: Bool
}

extension HubStore {
    /// Every register whose value ``FieldSpec/check(_:)`` refuses (text over its limit in code
    /// points, a NUL, NULL in a required field, a value of the wrong kind), and every live record
    /// with no value at all for a required field, ordered by municipality, entity and id. Reads
    /// only; one pass over the register table.
    public func check() throws -> [HubFinding] {
        var findings: [HubFinding] = []
        let registers = try db.prepare("SELECT tbl, pk, col, muni, val FROM hub_register WHERE col > 0 ORDER BY muni, tbl, pk, col")
        try registers.each(binding: { _ in }) { row in
            guard let e = schema.entity(number: Int(row.int64(0))),
                  let f = e.fields.first(where: { $0.number == Int(row.int64(2)) }) else { return }
            do throws(ModelError) {
                _ = try f.check(row.value(4))
            } catch {
                let id = row.text(1) ?? ""
                let muni = row.isNull(3) ? nil : row.text(3)
                findings.append(HubFinding(municipality: muni, entity: e.name, id: id, field: f.name, why: error.message,
                                           fix: Self.fix(e, id, f, muni), blocksPulls: true))
            }
        }
        for e in schema.entities {
            for f in e.fields where f.required && !f.localOnly {
                let missing = try db.prepare("""
                    SELECT r.pk, r.muni FROM hub_register r WHERE r.tbl = ?1 AND r.col = 0 AND r.val % 2 = 1
                    AND NOT EXISTS (SELECT 1 FROM hub_register v WHERE v.tbl = ?1 AND v.pk = r.pk AND v.col = ?2)
                    """)
                try missing.each(binding: { $0.bind(Int64(e.number), at: 1); $0.bind(Int64(f.number), at: 2) }) { row in
                    let id = row.text(0) ?? ""
                    let muni = row.isNull(1) ? nil : row.text(1)
                    findings.append(HubFinding(municipality: muni, entity: e.name, id: id, field: f.name,
                                               why: "field '\(f.name)' is required but the record has no value for it",
                                               fix: Self.fix(e, id, f, muni), blocksPulls: false))
                }
            }
        }
        return findings.sorted {
            ($0.municipality ?? "national", $0.entity, $0.id, $0.field) < ($1.municipality ?? "national", $1.entity, $1.id, $1.field)
        }
    }

    /// The repair: a newer write of a valid value from a replica of the record's municipality
    /// (the styrgrupp's for national data) replaces the stored one at the hub, and a pull then
    /// serves only the newer one.
    static func fix(_ e: EntitySpec, _ id: String, _ f: FieldSpec, _ municipality: String?) -> String {
        let who = municipality.map { "a replica of municipality \($0)" } ?? "the styrgrupp's replica"
        let others = e.fields.filter { $0.required && $0.name != f.name }.map { "\($0.name)=…" }
        return "on \(who), write a valid value (\(f.kind.allowed)): kmk-sync set \(e.name) \(id) \(f.name)=…"
            + (others.isEmpty ? "" : " (a replica that lacks the record also needs " + others.joined(separator: " ") + ")")
            + ", then kmk-sync sync (it pushes first); the newer write replaces this one at the hub and in every pull"
    }
}
