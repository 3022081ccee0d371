import KMKModel

/// The state a replica holds for one register: a field of a record, or a record's lifecycle.
public struct RegisterState: Hashable, Sendable {
    /// The value (for a lifecycle: the causal length).
    public var value: Value
    /// The clock of the write that set it.
    public var clock: HLC
    /// The replica that made that write.
    public var origin: String
    /// The clock of the value that write overwrote.
    public var base: HLC

    public init(value: Value, clock: HLC, origin: String, base: HLC) {
        self.value = value
        self.clock = clock
        self.origin = origin
        self.base = base
    }

    public init(_ change: Change) {
        self.init(value: change.value, clock: change.clock, origin: change.origin, base: change.base)
    }

    /// The causal length, for a lifecycle register (0 when not an integer).
    public var causalLength: Int64 { value.integer ?? 0 }
}

/// The merge rules, with no I/O. See SPEC.md, "Merge rules".
///
/// - A field is a last-writer-wins register ordered by (clock, origin): the greater pair wins.
/// - A record's lifecycle is its causal length (odd: exists, even: deleted), ordered by
///   (causal length, clock, origin): the greater triple wins. A concurrent update cannot
///   resurrect a deleted record, because updates do not change the causal length.
/// - Both orders are total, so every replica picks the same winner whatever the order, grouping
///   or repetition of the changes it receives: merge is commutative, associative and idempotent.
public enum MergeRules {
    /// The outcome of merging one incoming write into one register.
    public enum Outcome: Hashable, Sendable {
        /// The incoming write replaces the stored one.
        case replace
        /// The stored write stays (the incoming one lost, or is the same write again).
        case keep
    }

    /// Merges an incoming field write into the stored one (nil when the register is empty).
    public static func mergeField(stored: RegisterState?, incoming: RegisterState) -> Outcome {
        guard let stored else { return .replace }
        return fieldOrder(incoming, stored) ? .replace : .keep
    }

    /// Merges an incoming lifecycle write into the stored one.
    public static func mergeLifecycle(stored: RegisterState?, incoming: RegisterState) -> Outcome {
        guard let stored else { return .replace }
        return lifecycleOrder(incoming, stored) ? .replace : .keep
    }

    /// Whether `a` wins over `b` as field writes: (clock, origin) greater.
    public static func fieldOrder(_ a: RegisterState, _ b: RegisterState) -> Bool {
        if a.clock != b.clock { return a.clock > b.clock }
        return b.origin.utf8.lexicographicallyPrecedes(a.origin.utf8)
    }

    /// Whether `a` wins over `b` as lifecycle writes: (causal length, clock, origin) greater.
    public static func lifecycleOrder(_ a: RegisterState, _ b: RegisterState) -> Bool {
        if a.causalLength != b.causalLength { return a.causalLength > b.causalLength }
        return fieldOrder(a, b)
    }

    /// Whether two writes were made without either writer having seen the other: each one's clock
    /// is newer than the value the other overwrote. Writes by one replica are never concurrent.
    public static func concurrent(_ a: RegisterState, _ b: RegisterState) -> Bool {
        a.origin != b.origin && a.clock > b.base && b.clock > a.base
    }

    /// Whether merging `a` and `b` (the same field) is a real conflict worth a ledger entry: they are
    /// concurrent and their values differ, so one is discarded.
    public static func isConflict(_ a: RegisterState, _ b: RegisterState) -> Bool {
        concurrent(a, b) && a.value != b.value
    }

    /// Whether a field write and a delete of the same record conflict: the deleter had not seen the
    /// update (the update's clock is newer than the delete's base) and they come from different replicas.
    public static func updateConflictsWithDelete(update: RegisterState, delete: RegisterState) -> Bool {
        delete.causalLength % 2 == 0 && update.origin != delete.origin && update.clock > delete.base
    }
}
