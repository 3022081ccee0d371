import KMKModel
import KMKSync

/// What a replica remembers of its hub (all in `kmk_meta`, SPEC.md §11.5).
public struct RemoteState: Hashable, Sendable {
    /// The hub's URL, set by `kmk-sync remote set`.
    public var url: String?
    /// The id of the hub this replica last talked to.
    public var hubID: String?
    /// Every local change with a sequence number up to this one is on the hub.
    public var pushedSeq: Int64 = 0
    /// The last batch number the hub acknowledged.
    public var lastBatch: Int64 = 0
    /// A batch sent but not yet acknowledged: its number and the last sequence number it covers.
    public var inflight: (batch: Int64, seq: Int64)?
    /// The pull cursor (opaque), nil before the first pull.
    public var cursor: String?
    /// When (ms since 1970) and how the last push and pull ended.
    public var lastPush: (at: UInt64, outcome: String)?
    public var lastPull: (at: UInt64, outcome: String)?

    public static func == (a: RemoteState, b: RemoteState) -> Bool {
        a.url == b.url && a.hubID == b.hubID && a.pushedSeq == b.pushedSeq && a.lastBatch == b.lastBatch
            && a.inflight?.batch == b.inflight?.batch && a.inflight?.seq == b.inflight?.seq && a.cursor == b.cursor
    }

    public func hash(into h: inout Hasher) {
        h.combine(url)
        h.combine(pushedSeq)
        h.combine(lastBatch)
        h.combine(cursor)
    }
}

extension Replica {
    /// What the replica remembers of its hub.
    public func remoteState() throws -> RemoteState {
        var s = RemoteState()
        s.url = try meta("remote.url").text
        s.hubID = try meta("remote.hub_id").text
        s.pushedSeq = try meta("push.seq").integer ?? 0
        s.lastBatch = try meta("push.batch").integer ?? 0
        if let b = try meta("push.inflight_batch").integer, let q = try meta("push.inflight_seq").integer { s.inflight = (b, q) }
        s.cursor = try meta("pull.cursor").text
        if let at = try meta("push.last_at").integer { s.lastPush = (UInt64(at), try meta("push.last_outcome").text ?? "") }
        if let at = try meta("pull.last_at").integer { s.lastPull = (UInt64(at), try meta("pull.last_outcome").text ?? "") }
        return s
    }

    /// Stores the hub URL.
    public func setRemote(url: String) throws {
        try db.transaction { try setMeta("remote.url", .text(url)) }
    }

    /// Local changes not yet on the hub.
    public func pendingOutgoing() throws -> Int {
        try changeCount(after: try meta("push.seq").integer ?? 0)
    }

    /// The next batch to push: the batch sent last time if it was never acknowledged (the same
    /// number and the same range of sequence numbers), otherwise a new one of at most
    /// `maxCount` changes and about `maxBytes` of JSON. The batch is recorded as in flight
    /// before it is returned, so a crash after sending resends exactly it. Nil when nothing is
    /// pending.
    ///
    /// `prepared` is a batch read ahead by ``preparePushBatch(after:maxCount:maxBytes:)`` while
    /// the previous batch was in flight; it is used when it starts at the push mark and nothing
    /// is in flight (else it is dropped and the batch read again).
    ///
    /// One write transaction: edits other programs made meanwhile are stamped first, so no record
    /// is left pending below the number the batch reaches (SPEC.md §4, "The push mark").
    public func nextPushBatch(maxCount: Int, maxBytes: Int, prepared: PreparedPushBatch? = nil) throws
        -> (batch: PushBatch, upTo: Int64)? {
        try db.transaction {
            try stampPendingInTransaction()
            return try nextPushBatchInTransaction(maxCount: maxCount, maxBytes: maxBytes, prepared: prepared)
        }
    }

    private func nextPushBatchInTransaction(maxCount: Int, maxBytes: Int, prepared: PreparedPushBatch?) throws
        -> (batch: PushBatch, upTo: Int64)? {
        let state = try remoteState()
        if let inflight = state.inflight {
            // The same range as sent (never cut by a smaller count, or the ack would skip changes);
            // overwritten registers left it for a later batch, so it holds at most what was sent.
            var changes: [(seq: Int64, change: Change)] = []
            var after = state.pushedSeq
            while true {
                let page = try self.changes(after: after, limit: 10_000).filter { $0.seq <= inflight.seq }
                guard let last = page.last else { break }
                changes += page.filter { pushes($0.change) }
                after = last.seq
            }
            return (PushBatch(replica: replicaID, batch: inflight.batch, schema: schema.version, changes: changes.map(\.change)),
                    inflight.seq)
        }
        var ready: PreparedPushBatch
        if let prepared, prepared.after == state.pushedSeq {
            ready = prepared
        } else {
            guard let read = try preparePushBatch(after: state.pushedSeq, maxCount: maxCount, maxBytes: maxBytes) else { return nil }
            ready = read
        }
        // Nothing this replica may send (data it pulled of another scope): passed over without a
        // batch, so no batch number is used for it.
        while ready.changes.isEmpty {
            try setMeta("push.seq", .integer(ready.upTo))
            guard let read = try preparePushBatch(after: ready.upTo, maxCount: maxCount, maxBytes: maxBytes) else { return nil }
            ready = read
        }
        let number = state.lastBatch + 1
        try setMeta("push.inflight_batch", .integer(number))
        try setMeta("push.inflight_seq", .integer(ready.upTo))
        return (PushBatch(replica: replicaID, batch: number, schema: schema.version, changes: ready.changes, encoded: ready.encoded),
                ready.upTo)
    }

    /// Reads and encodes the batch that follows the push mark `after`, without recording
    /// anything: nil when nothing is numbered above it. A client reads the next batch this way
    /// while the hub works on the one in flight (only reads: the replica is not written), then
    /// hands it to ``nextPushBatch(maxCount:maxBytes:prepared:)`` once that one is acknowledged.
    ///
    /// Safe to read early: a local write meanwhile numbers its records above every existing
    /// number (SPEC.md §4), so no change can appear at or below the batch's last number after it
    /// was read; a record of the batch written meanwhile is renumbered above it and pushed again
    /// in a later batch, which the hub's merge ignores or applies, as for a batch in flight.
    public func preparePushBatch(after pushedSeq: Int64, maxCount: Int, maxBytes: Int) throws -> PreparedPushBatch? {
        let candidates = try self.changes(after: pushedSeq, limit: maxCount)
        guard !candidates.isEmpty else { return nil }
        // Cut only between sequence numbers: the changes of a record that share one are sent
        // together, or the acknowledgement (up to that number) would skip the rest (SPEC.md §4).
        // Each change is encoded once, to measure it, and those bytes are sent.
        // `taken` counts the candidates covered; only those ``pushes(_:)`` passes are encoded and sent.
        var taken = 0
        var bytes = 100
        var encoded = EncodedChanges()
        var sending: [Change] = []
        var group = 0
        var groupSent: [Change] = []
        var groupBytes = 0
        func close() -> Bool {
            if taken > 0, bytes + groupBytes > maxBytes {
                encoded.removeLast(groupSent.count)
                return false
            }
            taken += group
            bytes += groupBytes
            sending += groupSent
            group = 0
            groupSent.removeAll(keepingCapacity: true)
            groupBytes = 0
            return true
        }
        var full = false
        for (i, c) in candidates.enumerated() {
            if i > 0, candidates[i - 1].seq != c.seq, !close() {
                full = true
                break
            }
            if pushes(c.change) {
                groupBytes += encoded.append(c.change, schema: schema)
                groupSent.append(c.change)
            }
            group += 1
        }
        if !full { _ = close() }
        return PreparedPushBatch(after: pushedSeq, changes: sending, encoded: encoded, upTo: candidates[taken - 1].seq)
    }

    /// Whether a change of this replica's log goes to the hub: a municipality's replica sends its
    /// municipality's records, never the national reference data it pulled; the styrgrupp's
    /// national replica sends only national data (SPEC.md §11.4). The hub would refuse the others.
    func pushes(_ change: Change) -> Bool {
        (change.municipality == nil) == municipality.isNational
    }

    /// Records that the hub acknowledged a batch covering changes up to `upTo`.
    /// Records pending from other programs are stamped first, under the old mark, so that each
    /// moves above the batch with every register it had not pushed (SPEC.md §4, "The push mark").
    public func acknowledgePush(batch: Int64, upTo: Int64, hubID: String) throws {
        try db.transaction {
            try stampPendingInTransaction()
            try setMeta("push.seq", .integer(max(upTo, try meta("push.seq").integer ?? 0)))
            try setMeta("push.batch", .integer(batch))
            try setMeta("remote.hub_id", .text(hubID))
            try db.cached("DELETE FROM kmk_meta WHERE key IN ('push.inflight_batch', 'push.inflight_seq')").run()
        }
    }

    /// Starts pushing the whole log again, numbering batches from `nextBatch`: used when the
    /// hub's batch counter for this replica disagrees with ours (a restored hub or replica).
    /// Re-sending is safe: the hub ignores what it already has.
    public func restartPush(nextBatch: Int64) throws {
        try db.transaction { try restartPushInTransaction(nextBatch: nextBatch) }
    }

    /// ``restartPush(nextBatch:)`` inside the caller's transaction (a copy taking its own id does
    /// it too, ``checkIdentity()``).
    func restartPushInTransaction(nextBatch: Int64) throws {
        // Every register is unpushed now, so each takes its record's number (SPEC.md §4).
        for t in logTables { for carry in t.carryUnpushed { try db.cached(carry).run([.integer(0)]) } }
        try setMeta("push.seq", .integer(0))
        try setMeta("push.batch", .integer(nextBatch - 1))
        try db.cached("DELETE FROM kmk_meta WHERE key IN ('push.inflight_batch', 'push.inflight_seq')").run()
    }

    /// Forgets the pull cursor so the next pull starts from the beginning.
    public func restartPull() throws {
        try db.transaction { try db.cached("DELETE FROM kmk_meta WHERE key = 'pull.cursor'").run() }
    }

    /// Applies one pulled page and stores its cursor in the same transaction, so an interrupted
    /// pull resumes exactly after the last page applied. Changes that came from the hub are not
    /// pushed back to it when nothing local was waiting.
    @discardableResult
    public func applyPulled(_ page: PullPage, maxDrift: UInt64 = Replica.defaultMaxDrift) throws -> ApplyResult {
        try apply(page.changes, maxDrift: maxDrift, quarantine: page.quarantined, source: "pull") { [self] seqBefore in
            try setMeta("pull.cursor", .text(page.cursor))
            try setMeta("remote.hub_id", .text(page.hub))
            let pushed = try meta("push.seq").integer ?? 0
            let inflight = try meta("push.inflight_batch").integer
            if pushed == seqBefore, inflight == nil { try setMeta("push.seq", .integer(lastSeq)) }
        }
    }

    /// Records when and how a push or pull ended (`kind` is "push" or "pull").
    public func recordOutcome(_ kind: String, _ outcome: String) throws {
        try db.transaction {
            try setMeta("\(kind).last_at", .integer(Int64(now())))
            try setMeta("\(kind).last_outcome", .text(outcome))
        }
    }

    /// The checksum of this municipality's records (for the national replica: of the national
    /// reference data) as this replica holds them; equal to the
    /// hub's when both hold the same writes (see ``ChangeSetChecksum``).
    public func checksum() throws -> (checksum: String, count: Int) {
        var changes: [Change] = []
        var after: Int64 = 0
        while true {
            let page = try self.changes(after: after, limit: 10_000)
            guard let last = page.last else { break }
            after = last.seq
            let national = municipality.isNational
            changes += page.lazy.map(\.change).filter { ($0.municipality == nil) == national }
        }
        return (ChangeSetChecksum.hex(changes, schema: schema), changes.count)
    }
}
