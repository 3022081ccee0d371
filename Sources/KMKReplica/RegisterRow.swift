import KMKModel

/// A record's registers as read from its row (SPEC.md §2): the row's `cl`, `seq`, `t`, `pend` and
/// `regs` columns turned into one state per register. Pure.
///
/// A register is *pending* while its bit of `pend` is set: written by a statement that kmk-sync
/// has not clocked yet (SPEC.md §4). Its slot in `regs` still holds the state it had before that
/// write, whose clock becomes the write's base. Here a pending register reads as it did in the
/// layouts with one column per register: no clock, site 0, its base, sequence number -1; and a
/// record with a pending register has no number (`seq` nil), so each of its other registers
/// carries its own.
struct RegisterRow {
    var cl: Int64
    /// nil while something in the row is pending.
    var seq: Int64?
    /// The reference clock, nil until the row is first clocked.
    var t: Int64?
    /// Each register's state, in ``LogTable/registers`` order; a pending one with `h` nil, `s` 0,
    /// its base in `b` and `q` -1.
    var registers: [StoredRegister]
    /// The rowid of a live record's row in the entity's table; nil for a row of `gone`.
    var liveRowid: Int64?

    /// The row's columns as stored: `storedSeq` the `seq` column, `pend` the pending registers'
    /// bits, `slots` the `regs` column decoded (``Statement/registerSlots(at:count:)``).
    init(cl: Int64, storedSeq: Int64?, t: Int64?, pend: Int64, slots: [StoredRegister], liveRowid: Int64? = nil) {
        self.cl = cl
        self.t = t
        self.liveRowid = liveRowid
        registers = slots
        guard pend != 0 else {
            seq = storedSeq
            return
        }
        seq = nil
        for i in registers.indices {
            if RegisterRules.isSet(pend, i) {
                let old = registers[i]
                registers[i] = StoredRegister(h: nil, s: 0, b: old.h ?? old.b, q: -1)
            } else if registers[i].h != nil, registers[i].q == nil {
                registers[i].q = storedSeq
            }
        }
    }

    init(cl: Int64, seq: Int64?, t: Int64?, registers: [StoredRegister], liveRowid: Int64? = nil) {
        self.cl = cl
        self.seq = seq
        self.t = t
        self.registers = registers
        self.liveRowid = liveRowid
    }

    /// A register's state decoded: the clock (nil while pending), the site, the base (0: none)
    /// and the sequence number (-1 while pending).
    struct Decoded {
        var h: Int64?
        var s: Int64
        var b: Int64
        var q: Int64
    }

    /// Register `i` (its position in ``LogTable/registers``) decoded, nil when it was never written.
    func decoded(_ i: Int) -> Decoded? {
        let c = registers[i]
        let q: Int64? = c.h == nil ? c.q : (c.q ?? seq)
        guard let q else { return nil }
        let h = t.flatMap { t in c.h.map { t + $0 } }
        let b = t.flatMap { t in c.b.map { t + $0 } } ?? 0
        return Decoded(h: h, s: c.s, b: b, q: q)
    }

    /// The columns to store: `pend` (the bits of the registers with `q` -1) and `regs`, a pending
    /// register's slot holding its base as `b`.
    func storedColumns(into blob: inout [UInt8]) -> Int64 {
        var pend: Int64 = 0
        var slots = registers
        for i in slots.indices where slots[i].q == -1 {
            pend |= 1 << Int64(i)
            slots[i] = StoredRegister(h: nil, s: 0, b: slots[i].b, q: nil)
        }
        RegisterBlob.encode(slots, into: &blob)
        return pend
    }
}

extension Statement {
    /// The `regs` blob in column `column` decoded into `count` slots; nil when it is malformed.
    func registerSlots(at column: Int32, count: Int) -> [StoredRegister]? {
        var slots = [StoredRegister](repeating: .empty, count: count)
        let ok = withBlob(column) { $0.map { RegisterBlob.decode($0, into: &slots) } ?? true }
        return ok ? slots : nil
    }

    /// The registers of a row whose columns `cl, seq, t, pend, regs` start at `first`; nil when
    /// its `regs` blob is malformed.
    func registerRow(at first: Int32, count: Int, liveRowid: Int64? = nil) -> RegisterRow? {
        registerSlots(at: first + 4, count: count).map {
            RegisterRow(cl: int64(first), storedSeq: optionalInt64(first + 1), t: optionalInt64(first + 2), pend: int64(first + 3),
                        slots: $0, liveRowid: liveRowid)
        }
    }
}

extension ReplicaError {
    /// A record whose `regs` blob cannot be read.
    static func damagedRegisters(_ path: String, _ entity: String, _ id: String) -> ReplicaError {
        ReplicaError(.badFile, "\(path): the registers of \(entity) \(id) are damaged (corrupt regs blob); "
            + "run `kmk-sync check` and restore the file from a backup")
    }
}
