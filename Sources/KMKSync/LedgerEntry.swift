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
}
