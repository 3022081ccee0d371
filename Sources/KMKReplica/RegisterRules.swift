/// The rule by which a write changes a record's stored registers (SPEC.md §4), on the slots of its
/// `regs` column: the one rule behind the stamp, direct capture and the `kmk_write` SQL function.
/// Pure.
enum RegisterRules {
    /// Writes the registers whose bits are set in `written` (bit i: position i in
    /// ``LogTable/registers``) with `clock`, origin this replica and the record's new number, and
    /// gives the others their numbers as the record takes a new one.
    ///
    /// - `t` is the row's reference clock after the write (its old one, or `clock` when it had
    ///   none); `oldSeq` its `seq` column before the write; `mark` the push mark.
    /// - A written register's base is the clock it had, unless that is `clock` itself (written
    ///   earlier in the same transaction: it keeps its base); its number becomes the record's.
    /// - Every other register that was ever clocked keeps its number when that is at or below
    ///   the push mark (stored, since the record's changes) and takes the record's new one above it.
    /// - With `deletion` the lifecycle's base is instead the newest clock, other than `clock`, of
    ///   the lifecycle and of the registers not in `written` (SPEC.md §4, trigger 3).
    static func write(_ slots: inout [StoredRegister], t: Int64, oldSeq: Int64?, written: Int64, clock: Int64, mark: Int64,
                      deletion: Bool = false) {
        let rel = clock &- t
        var newest: Int64?
        if deletion {
            for i in slots.indices where i == 0 || !isSet(written, i) {
                if let h = slots[i].h, h != rel, h > (newest ?? .min) { newest = h }
            }
        }
        for i in slots.indices {
            if isSet(written, i) {
                let old = slots[i]
                slots[i] = StoredRegister(h: rel, s: 0, b: old.h != nil && old.h != rel ? old.h : old.b, q: nil)
            } else if slots[i].h != nil {
                let q = slots[i].q ?? oldSeq
                slots[i].q = q.map { $0 > mark ? nil : $0 } ?? nil
            }
        }
        if deletion, !slots.isEmpty { slots[0].b = newest }
    }

    /// Gives the registers of a record numbered above the push mark whose stored number is above
    /// it the record's number again (after the push mark moved back).
    static func carry(_ slots: inout [StoredRegister], mark: Int64) {
        for i in slots.indices where (slots[i].q ?? .min) > mark { slots[i].q = nil }
    }

    static func isSet(_ bits: Int64, _ i: Int) -> Bool { i < 63 && bits & (1 << Int64(i)) != 0 }
}
