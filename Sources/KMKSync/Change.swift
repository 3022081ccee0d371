import KMKModel

/// One field write, row creation or row deletion, as it travels between replicas and the hub.
///
/// A change names the record (entity, id), the field (or ``Change/lifecycleField`` for the row's
/// lifecycle, whose value is the causal length), the value, the clock and origin replica of the
/// write, and the clock of the value the writer overwrote (`base`, used only to tell concurrent
/// writes from sequential ones for the merge ledger).
public struct Change: Hashable, Sendable {
    /// The pseudo-field that carries a row's lifecycle: its value is the causal length
    /// (odd: the row exists, even: deleted; 1 on creation).
    public static let lifecycleField = "$cl"

    public var entity: String
    public var id: String
    public var field: String
    public var value: Value
    public var clock: HLC
    public var origin: String
    public var base: HLC
    /// The municipality the record belongs to; nil for national reference data.
    public var municipality: String?

    public init(
        entity: String, id: String, field: String, value: Value, clock: HLC, origin: String, base: HLC = .zero,
        municipality: String?
    ) {
        self.entity = entity
        self.id = id
        self.field = field
        self.value = value
        self.clock = clock
        self.origin = origin
        self.base = base
        self.municipality = municipality
    }

    /// Whether this change is a row lifecycle change (create, delete, restore).
    public var isLifecycle: Bool { field == Change.lifecycleField }
}
