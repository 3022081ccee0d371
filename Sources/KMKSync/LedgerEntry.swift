import KMKModel

/// A conflict that merging resolved: which write won and which lost. Coordinators read these
/// (`kmk-sync conflicts`) to see that their edit lost, and to whom.
public struct LedgerEntry: Hashable, Sendable {
    public var entity: String
    public var id: String
    /// The field whose write lost.
    public var field: String
    /// True when a delete won against an update: `winner` is then the record's lifecycle (an even
    /// causal length) and `loser` the update that the deleting replica had not seen.
    public var deleteWon: Bool
    public var winner: RegisterState
    public var loser: RegisterState
    /// When this replica resolved it (its local clock).
    public var resolvedAt: HLC

    public init(
        entity: String, id: String, field: String, deleteWon: Bool = false, winner: RegisterState, loser: RegisterState,
        resolvedAt: HLC
    ) {
        self.entity = entity
        self.id = id
        self.field = field
        self.deleteWon = deleteWon
        self.winner = winner
        self.loser = loser
        self.resolvedAt = resolvedAt
    }

    /// A deterministic key: the same conflict resolved twice (a duplicated batch) is one entry.
    /// `entity/id/field/WINNER-CLOCK/winner-origin/LOSER-CLOCK/loser-origin`, clocks as 16 hex digits.
    public var key: String {
        // Made from bytes: it is made once per conflict an apply resolves.
        var out: [UInt8] = []
        out.reserveCapacity(entity.utf8.count + id.utf8.count + field.utf8.count + winner.origin.utf8.count
            + loser.origin.utf8.count + 2 * 16 + 6)
        let slash = UInt8(ascii: "/")
        out.append(contentsOf: entity.utf8)
        out.append(slash)
        out.append(contentsOf: id.utf8)
        out.append(slash)
        out.append(contentsOf: field.utf8)
        out.append(slash)
        winner.clock.appendHex(to: &out)
        out.append(slash)
        out.append(contentsOf: winner.origin.utf8)
        out.append(slash)
        loser.clock.appendHex(to: &out)
        out.append(slash)
        out.append(contentsOf: loser.origin.utf8)
        return String(decoding: out, as: UTF8.self)
    }
}
