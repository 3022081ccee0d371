import Foundation
import KMKModel
@testable import KMKReplica
import KMKTestSupport
import Testing

/// The `regs` blob (SPEC.md §2) and the rule by which a write changes its slots (SPEC.md §4,
/// "Clocking"), alone: no file.
@Suite("Register blob")
struct RegisterBlobTests {
    @Test("random slots survive encoding: every kind of value, negative ones, registers never written at the end left out")
    func roundTrip() throws {
        let seed = SplitMix64.seed(from: "KMK_BLOB_SEED")
        print("register blob: seed \(seed) (replay with KMK_BLOB_SEED=\(seed))")
        var rng = SplitMix64(seed: seed)
        func value() -> Int64 {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return 0
            case 1: return Int64.random(in: -300...300, using: &rng)
            case 2: return Int64.random(in: Int64.min...Int64.max, using: &rng)
            default: return Int64.random(in: 0...(1 << 40), using: &rng)
            }
        }
        for round in 0..<2_000 {
            let count = Int.random(in: 1...40, using: &rng)
            let slots = (0..<count).map { _ -> StoredRegister in
                if Bool.random(using: &rng) { return .empty }
                return StoredRegister(h: Bool.random(using: &rng) ? value() : nil, s: Bool.random(using: &rng) ? value() : 0,
                                      b: Bool.random(using: &rng) ? value() : nil, q: Bool.random(using: &rng) ? value() : nil)
            }
            let blob = RegisterBlob.encode(slots)
            #expect(RegisterBlob.decode(blob, count: count) == slots, "seed \(seed), round \(round)")
            if slots.last == StoredRegister.empty { #expect(blob.count < RegisterBlob.encode(slots.dropLast() + [StoredRegister(h: 0)]).count) }
            #expect(slots.allSatisfy { $0 == StoredRegister.empty } == blob.isEmpty, "seed \(seed), round \(round)")
        }
    }

    @Test("the bytes are SPEC.md §2's: a flag byte, then zigzag varints")
    func bytes() {
        // Written with the record's first clock and number: one byte each; a register never
        // written in between is 00; the two never written at the end are left out.
        #expect(RegisterBlob.encode([StoredRegister(h: 0), .empty, StoredRegister(h: 0), .empty, .empty]) == [0x01, 0x00, 0x01])
        // h = -1 (zigzag 1), s = 2 (4), b = 64 (128: two bytes), q = 300 (600: 0xD8 0x04).
        #expect(RegisterBlob.encode([StoredRegister(h: -1, s: 2, b: 64, q: 300)]) == [0x1F, 0x01, 0x04, 0x80, 0x01, 0xD8, 0x04])
        // A pending register that overwrote nothing and a never-written one with a base only.
        #expect(RegisterBlob.encode([StoredRegister(h: nil, s: 0, b: 5, q: nil)]) == [0x08, 0x0A])
    }

    @Test("a malformed blob is refused, not read as something else")
    func malformed() {
        #expect(RegisterBlob.decode([0x20], count: 3) == nil, "an unknown flag bit")
        #expect(RegisterBlob.decode([0x02], count: 3) == nil, "h follows without being present")
        #expect(RegisterBlob.decode([0x03], count: 3) == nil, "a value cut off")
        #expect(RegisterBlob.decode([0x03, 0x80, 0x80], count: 3) == nil, "a varint cut off")
        #expect(RegisterBlob.decode([0x03] + [UInt8](repeating: 0xFF, count: 11) + [0x01], count: 3) == nil, "a varint too long")
        #expect(RegisterBlob.decode([0x01, 0x01, 0x01, 0x01], count: 3) == nil, "more registers than the entity has")
        #expect(RegisterBlob.decode([], count: 3) == [.empty, .empty, .empty])
    }

    @Test("clocking: a written register takes the clock and its old clock as base, unless written earlier in the transaction; the others keep their number at or below the push mark and take the record's above it")
    func clocking() {
        // t = 1000; the record's old number 50, the push mark 40; the write's clock 1500 (h 500).
        var slots = [
            StoredRegister(h: 0),                       // lifecycle, numbered 50 (the record's): above the mark
            StoredRegister(h: 100, s: 3, b: 20, q: 30), // pushed (30 ≤ 40): keeps 30
            StoredRegister(h: 200, s: 1, q: 45),        // unpushed (45 > 40): takes the record's
            StoredRegister(h: 100, s: 2, b: 7),         // written: base 100
            StoredRegister(h: 500, b: 9),               // written again in the same transaction: keeps base 9
            .empty,                                     // written for the first time: no base
            .empty,                                     // never written: stays
        ]
        RegisterRules.write(&slots, t: 1000, oldSeq: 50, written: 0b11_1000, clock: 1500, mark: 40)
        #expect(slots == [
            StoredRegister(h: 0), StoredRegister(h: 100, s: 3, b: 20, q: 30), StoredRegister(h: 200, s: 1),
            StoredRegister(h: 500, b: 100), StoredRegister(h: 500, b: 9), StoredRegister(h: 500), .empty,
        ])
        // The record's old number at or below the mark: registers that carried it now store it.
        var pushed = [StoredRegister(h: 0), StoredRegister(h: 10)]
        RegisterRules.write(&pushed, t: 1000, oldSeq: 40, written: 0b10, clock: 1500, mark: 40)
        #expect(pushed == [StoredRegister(h: 0, q: 40), StoredRegister(h: 500, b: 10)])
    }

    @Test("kmk_write's byte-level rewrite of a blob gives the same bytes as the clocking rule on its decoded slots")
    func rewriteMatchesRule() throws {
        let seed = SplitMix64.seed(from: "KMK_BLOB_SEED")
        print("register blob rewrite: seed \(seed) (replay with KMK_BLOB_SEED=\(seed))")
        var rng = SplitMix64(seed: seed)
        let t: Int64 = 1_000_000
        for round in 0..<2_000 {
            let count = Int.random(in: 1...30, using: &rng)
            let clock = t + Int64.random(in: 0...5_000, using: &rng)
            let mark = Int64.random(in: 0...100, using: &rng)
            let oldSeq: Int64? = Int.random(in: 0..<8, using: &rng) == 0 ? nil : Int64.random(in: 0...120, using: &rng)
            var slots = (0..<count).map { _ -> StoredRegister in
                if Int.random(in: 0..<4, using: &rng) == 0 { return .empty }
                let h: Int64? = Int.random(in: 0..<6, using: &rng) == 0 ? nil
                    : [0, clock - t, Int64.random(in: -5_000...5_000, using: &rng)][Int.random(in: 0..<3, using: &rng)]
                return StoredRegister(h: h, s: Int64.random(in: 0...3, using: &rng), b: Bool.random(using: &rng) ? Int64.random(in: -100...100, using: &rng) : nil,
                                      q: Bool.random(using: &rng) ? Int64.random(in: 0...120, using: &rng) : nil)
            }
            var written: Int64 = 0
            for i in 0..<min(count + 2, 62) where Int.random(in: 0..<4, using: &rng) == 0 { written |= 1 << Int64(i) }
            let blob = RegisterBlob.encode(slots)
            let rewritten = blob.withUnsafeBytes { bytes in
                [UInt8](unsafeUninitializedCapacity: RegisterBlob.rewriteCapacity(blob.count, written: written)) { out, n in
                    n = RegisterBlob.rewrite(bytes, into: UnsafeMutableRawBufferPointer(out), t: t, oldSeq: oldSeq, written: written,
                                             clock: clock, mark: mark) ?? -1
                }
            }
            let top = written == 0 ? 0 : 64 - written.leadingZeroBitCount
            slots += Array(repeating: .empty, count: max(0, top - slots.count))
            RegisterRules.write(&slots, t: t, oldSeq: oldSeq, written: written, clock: clock, mark: mark)
            #expect(rewritten == RegisterBlob.encode(slots), "seed \(seed), round \(round)")
        }
        #expect(RegisterBlob.rewrite(UnsafeRawBufferPointer(start: nil, count: 0), into: .init(start: nil, count: 0), t: t, oldSeq: 1,
                                     written: 0, clock: t, mark: 0) == 0)
        let bad: [UInt8] = [0x01, 0x40]
        let refused = bad.withUnsafeBytes { bytes in
            withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { out in
                RegisterBlob.rewrite(bytes, into: out, t: t, oldSeq: 1, written: 1, clock: t, mark: 0)
            }
        }
        #expect(refused == nil)
    }

    @Test("a deletion's base is the newest clock of the lifecycle and the registers not pending, other than the write's own")
    func deletionBase() {
        var slots = [StoredRegister(h: 50), StoredRegister(h: 300), StoredRegister(h: 900), StoredRegister(h: 500)]
        // Register 2 (900) is pending too and does not count; register 3 holds the write's own clock.
        RegisterRules.write(&slots, t: 1000, oldSeq: 8, written: 0b101, clock: 1500, mark: 0, deletion: true)
        #expect(slots[0] == StoredRegister(h: 500, b: 300))
        #expect(slots[2] == StoredRegister(h: 500, b: 900))
        var bare = [StoredRegister(h: 500)]
        RegisterRules.write(&bare, t: 1000, oldSeq: 8, written: 0b1, clock: 1500, mark: 0, deletion: true)
        #expect(bare[0] == StoredRegister(h: 500, b: nil))
    }
}
