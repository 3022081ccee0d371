import KMKModel

/// The statements with which kmk-sync's own imports capture changes themselves, with the
/// connection's triggers off (SPEC.md §4, "Direct capture"). Each writes exactly the clock row
/// the capture trigger would write for the same record; the register rules are the triggers'
/// (``write(_:when:_:)``), with the stamp as parameters instead of `kmk_stamp`:
/// ?1 the clock, ?2 the record's new sequence number, ?3 the push mark, ?4 the id.
extension LogTable {
    static let directStamp: Stamp = (h: "?1", rs: "?2", p: "?3", z: "0", pq: "NULL")

    /// The clock row of a record this replica never knew, created with the synced fields marked
    /// in `written` (by position in ``fields``) non-NULL: what the insert trigger writes (the
    /// transaction's clock as the row's reference, so each written register stores 0 and no number).
    func directInsert(written: [Bool]) -> String {
        var columns = ["id", "cl", "seq", "t", "h0"]
        var values = ["?4", "1", "?2", "?1", "0"]
        for (i, f) in fields.enumerated() where written[i] {
            columns.append("h\(f.number)")
            values.append("0")
        }
        return "INSERT INTO \(clock) (\(columns.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))"
    }

    /// The clock row of a live record whose synced fields marked in `changed` got a new value:
    /// what the update trigger writes.
    func directUpdate(changed: [Bool]) -> String {
        let sets = [LogTable.setReference(LogTable.directStamp)] + write(0, when: "0", LogTable.directStamp)
            + fields.enumerated().flatMap { write($1.number, when: changed[$0] ? "1" : "0", LogTable.directStamp) }
        return "UPDATE \(clock) SET seq = ?2, \(sets.joined(separator: ", ")) WHERE id = ?4"
    }

    /// The lifecycle state of the records whose ids are in the JSON array ?1 (``idArray(_:)``):
    /// id, causal length, and whether the lifecycle register was ever written.
    var knownAmong: String {
        "SELECT c.id, c.cl, \(LogTable.isWritten(0, "c.")) FROM json_each(?1) AS j JOIN \(clock) AS c ON c.id = j.value"
    }

    /// Record ids as a JSON array, for statements that take a set of ids through `json_each`.
    static func idArray(_ ids: some Sequence<String>) -> String {
        var json: [UInt8] = [0x5B]
        for (k, id) in ids.enumerated() {
            if k > 0 { json.append(0x2C) }
            CanonicalJSON.append(string: id, to: &json)
        }
        json.append(0x5D)
        return String(decoding: json, as: UTF8.self)
    }
}
