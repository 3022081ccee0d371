/// A register's state as a row stores it (SPEC.md §2): `h` the clock of its winning write minus
/// the row's reference clock `t` (nil: never clocked), `s` its origin site (0: this replica), `b`
/// the clock that write overwrote minus `t` (nil: none) and `q` its sequence number when that is
/// not its record's (nil: the record's).
struct StoredRegister: Equatable {
    var h: Int64?
    var s: Int64 = 0
    var b: Int64?
    var q: Int64?

    /// A register never written.
    static let empty = StoredRegister()
}

/// The `regs` column of a record's row (log layout 7, SPEC.md §2): its registers' stored states in
/// register order, each as one flag byte and the values it announces as zigzag varints. Pure.
///
/// Flag bits: 1 `h` is present, 2 `h` is not 0 and follows, 4 `s` follows (it is not 0), 8 `b`
/// follows, 16 `q` follows; the values follow in that order. The registers after the last one
/// with a non-zero flag are left out (they were never written), so a NULL or empty blob is a record
/// with no register written, and a register added to the schema later reads as never written.
enum RegisterBlob {
    /// Decodes `bytes` into `out`, which holds one register per register of the entity: those
    /// the blob does not reach are left as they are. Returns false when the blob is malformed
    /// (an unknown flag, a value cut short, or more registers than `out` holds, unless `grow`).
    static func decode(_ bytes: UnsafeRawBufferPointer, into out: inout [StoredRegister], grow: Bool = false) -> Bool {
        var reader = Reader(bytes: bytes)
        var i = 0
        while !reader.atEnd {
            if i == out.count {
                guard grow, i < 64 else { return false }
                out.append(.empty)
            }
            guard let r = reader.slot() else { return false }
            out[i] = r
            i += 1
        }
        return true
    }

    /// Decodes a blob of an entity with `count` registers; nil when it is malformed.
    static func decode(_ bytes: [UInt8], count: Int) -> [StoredRegister]? {
        var out = [StoredRegister](repeating: .empty, count: count)
        let ok = bytes.withUnsafeBytes { decode($0, into: &out) }
        return ok ? out : nil
    }

    /// Encodes `registers` into `out` (replacing what it held, keeping its capacity); empty when
    /// none was written.
    static func encode(_ registers: [StoredRegister], into out: inout [UInt8]) {
        let capacity = Writer.maxSlot * registers.count
        if out.count < capacity { out.append(contentsOf: repeatElement(0, count: capacity - out.count)) }
        let end = out.withUnsafeMutableBytes { buffer in
            var writer = Writer(out: buffer)
            var end = 0
            for r in registers {
                writer.put(r)
                if writer.last != 0 { end = writer.count }
            }
            return end
        }
        out.removeLast(out.count - end)
    }

    static func encode(_ registers: [StoredRegister]) -> [UInt8] {
        var out: [UInt8] = []
        encode(registers, into: &out)
        return out
    }

    /// ``RegisterRules/write(_:t:oldSeq:written:clock:mark:deletion:)`` (no deletion) on the bytes
    /// of a blob, without decoding it into an array: the `kmk_write` SQL function runs it once per
    /// row of an import. Writes into `out` (at least ``rewriteCapacity(_:written:)`` bytes) and
    /// returns the length, or nil when the blob is malformed. A slot the rule leaves as it was is
    /// copied byte for byte. (`RegisterBlobTests` compares it with the rule on random slots.)
    static func rewrite(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, t: Int64, oldSeq: Int64?,
                        written: Int64, clock: Int64, mark: Int64) -> Int? {
        let rel = clock &- t
        var reader = Reader(bytes: bytes)
        var writer = Writer(out: out)
        var end = 0
        var i = 0
        let top = written == 0 ? 0 : 64 - written.leadingZeroBitCount
        while !reader.atEnd || i < top {
            let start = reader.offset
            var old = StoredRegister.empty
            if !reader.atEnd {
                guard let r = reader.slot() else { return nil }
                old = r
            }
            if RegisterRules.isSet(written, i) {
                writer.put(StoredRegister(h: rel, s: 0, b: old.h != nil && old.h != rel ? old.h : old.b, q: nil))
            } else if old.h != nil, let q = old.q ?? oldSeq, (q > mark) == (old.q != nil) {
                // The number changes how it is stored: above the mark it becomes the record's,
                // at or below it the record's old one is stored.
                old.q = q > mark ? nil : q
                writer.put(old)
            } else {
                writer.copy(bytes, start..<reader.offset)
            }
            if writer.last != 0 { end = writer.count }
            i += 1
        }
        return end
    }

    /// The bytes ``rewrite(_:into:t:oldSeq:written:clock:mark:)`` may need for a blob of `count` bytes.
    /// (Each slot it writes comes from a slot of at least one byte or a written register, of which
    /// there are at most 63.)
    static func rewriteCapacity(_ count: Int, written: Int64) -> Int { Writer.maxSlot * (count + 64) }

    /// Reads a blob slot by slot.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset >= bytes.count }

        /// The next slot: its flag byte and the values it announces; nil when the flags are
        /// invalid or a value is cut short.
        mutating func slot() -> StoredRegister? {
            let flags = bytes[offset]
            offset += 1
            guard flags & ~31 == 0, flags & 3 != 2 else { return nil }
            var r = StoredRegister.empty
            if flags & 1 != 0 { r.h = 0 }
            if flags & 2 != 0 { guard let v = next() else { return nil }; r.h = v }
            if flags & 4 != 0 { guard let v = next() else { return nil }; r.s = v }
            if flags & 8 != 0 { guard let v = next() else { return nil }; r.b = v }
            if flags & 16 != 0 { guard let v = next() else { return nil }; r.q = v }
            return r
        }

        /// The next zigzag varint; nil when the blob ends inside it or it is longer than 10 bytes.
        private mutating func next() -> Int64? {
            var u: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count, shift < 70 {
                let byte = bytes[offset]
                offset += 1
                u |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1))) }
                shift += 7
            }
            return nil
        }
    }

    /// Writes slots into a buffer with room for them (``Writer/maxSlot`` bytes each).
    private struct Writer {
        /// The most bytes a slot takes: a flag byte and four 10-byte varints.
        static let maxSlot = 41

        let out: UnsafeMutableRawBufferPointer
        var count = 0
        /// The flag byte of the last slot written.
        var last: UInt8 = 0

        mutating func put(_ r: StoredRegister) {
            var flags: UInt8 = 0
            if let h = r.h { flags |= h == 0 ? 1 : 3 }
            if r.s != 0 { flags |= 4 }
            if r.b != nil { flags |= 8 }
            if r.q != nil { flags |= 16 }
            byte(flags)
            if let h = r.h, h != 0 { varint(h) }
            if r.s != 0 { varint(r.s) }
            if let b = r.b { varint(b) }
            if let q = r.q { varint(q) }
            last = flags
        }

        /// Copies a slot as it was (`range` of `bytes`); an empty range is a slot never written.
        mutating func copy(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
            guard !range.isEmpty else {
                byte(0)
                last = 0
                return
            }
            for k in range { byte(bytes[k]) }
            last = bytes[range.lowerBound]
        }

        private mutating func byte(_ b: UInt8) {
            out[count] = b
            count += 1
        }

        /// `v` zigzag-encoded as a little-endian base-128 varint.
        private mutating func varint(_ v: Int64) {
            var u = UInt64(bitPattern: (v << 1) ^ (v >> 63))
            while u >= 0x80 {
                byte(UInt8(truncatingIfNeeded: u) | 0x80)
                u >>= 7
            }
            byte(UInt8(u))
        }
    }
}
