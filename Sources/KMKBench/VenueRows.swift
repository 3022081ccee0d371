import KMKModel

/// Venue-like rows for the benchmark: 8 synced fields each, deterministic from a seed, so both
/// sides of a comparison write exactly the same values.
struct VenueRows {
    /// The fields every row sets, in this order.
    static let fields = ["name", "address", "licence_ref", "membership", "joined_on", "has_drug_policy", "staff_count",
                         "door_staff_count"]
    /// The two fields an update changes.
    static let updatedFields = ["address", "staff_count"]
    /// The columns the content hash covers: the id and every synced field of `venue`.
    static let hashColumns = ["id"] + EntitySpec.venue.syncedFields.map(\.name)

    /// When the first row was created (Unix ms, 2026-01-01 UTC); the ids' time part.
    static let firstCreated: UInt64 = 1_767_225_600_000

    var ids: [String]
    /// One array per row, values in ``fields`` order.
    var values: [[Value]]

    var count: Int { ids.count }

    init(count: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // Made as the product makes ids (version 7): rows created one after another, a
        // millisecond apart, from a fixed time.
        ids = (0..<count).map { i in RecordID.make(millis: VenueRows.firstCreated + UInt64(i), using: &rng) }
        values = (0..<count).map { i in VenueRows.row(i, round: 0, rng: &rng) }
    }

    static func row(_ i: Int, round: Int, rng: inout SplitMix64) -> [Value] {
        let streets = ["Storgatan", "Kungsgatan", "Drottninggatan", "Hamngatan", "Fristadstorget", "Nygatan"]
        let year = 2010 + (i + round) % 15
        let month = 1 + (i + round) % 12
        let day = 1 + (i * 7 + round) % 28
        return [
            .text("Krogen \(i) v\(round) \(rng.next() % 1000)"),
            .text("\(streets[(i + round) % streets.count]) \(1 + (i + round) % 97), \(10_000 + rng.next() % 89_999) Ort"),
            .text("ST-\(year)-\(i)-\(round)"),
            .text(["applicant", "member", "left"][(i + round) % 3]),
            .text(String(year) + "-" + pad2(month) + "-" + pad2(day)),
            .integer(Int64((i + round) % 2)),
            .integer(Int64(5 + (i % 60) + round)),
            .integer(Int64((i + round) % 8)),
        ]
    }

    /// The rows after one update of the two ``updatedFields`` (a different `round` gives different values).
    func updatingTwo(round: Int) -> VenueRows {
        var out = self
        for i in 0..<count {
            out.values[i][1] = .text("Uppdaterad gata \(i) r\(round)")
            out.values[i][6] = .integer(Int64(100 + (i % 50) + round))
        }
        return out
    }

    /// The rows after one update of every field: each value differs from the round before.
    func updatingAll(round: Int, seed: UInt64) -> VenueRows {
        var rng = SplitMix64(seed: seed)
        var out = self
        out.values = (0..<count).map { i in VenueRows.row(i, round: round, rng: &rng) }
        return out
    }

    /// The rows as records, with all ``fields`` or only the named ones.
    func records(only names: [String]? = nil) -> [Record] {
        let wanted = names.map(Set.init)
        return (0..<count).map { i in
            var fields: [String: Value] = [:]
            for (k, name) in VenueRows.fields.enumerated() where wanted?.contains(name) ?? true { fields[name] = values[i][k] }
            return Record(entity: "venue", id: ids[i], fields: fields)
        }
    }

}

private func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : String(n) }
