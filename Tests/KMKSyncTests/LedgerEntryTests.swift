import KMKModel
import KMKSync
import Testing

@Suite("Merge ledger entries")
struct LedgerEntryTests {
    /// The key as SPEC.md §8 and every stored ledger have it: the parts joined by "/", clocks as
    /// 16 lowercase hex digits. ``LedgerEntry/key`` is built from bytes; it must equal this.
    func documentedKey(_ e: LedgerEntry) -> String {
        "\(e.entity)/\(e.id)/\(e.field)/\(e.winner.clock.hex)/\(e.winner.origin)/\(e.loser.clock.hex)/\(e.loser.origin)"
    }

    @Test("the key is entity/id/field/winner clock/winner origin/loser clock/loser origin, clocks in 16 hex digits")
    func key() {
        let a = RegisterState(value: .integer(15), clock: HLC(millis: 1_764_000_000_123, counter: 2),
                              origin: "bbbbbbbb-0000-4000-8000-000000000000", base: .zero)
        let b = RegisterState(value: .text("x"), clock: HLC(rawValue: 0xF), origin: "aaaaaaaa-0000-4000-8000-000000000000",
                              base: .zero)
        let e = LedgerEntry(entity: "venue", id: "0c2f", field: "staff_count", winner: a, loser: b, resolvedAt: .zero)
        #expect(e.key == "venue/0c2f/staff_count/\(a.clock.hex)/bbbbbbbb-0000-4000-8000-000000000000/"
            + "000000000000000f/aaaaaaaa-0000-4000-8000-000000000000")
        #expect(a.clock.hex.utf8.count == 16)
    }

    @Test("random entries: the key equals the documented text (non-ASCII, empty parts, extreme clocks)")
    func randomKeys() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("ledger key test seed: \(seed)")
        var rng = SplitMix64(seed: seed)
        let parts = ["", "venue", "åäö", "id/with/slashes", "\u{1F600}", "a\"b\\c", "0484-x"]
        let clocks: [UInt64] = [0, 1, 0xF, 0x10, UInt64.max, UInt64(Int64.max)]
        for _ in 0..<500 {
            func part() -> String { parts[Int(rng.next() % UInt64(parts.count))] }
            func clock() -> HLC { HLC(rawValue: rng.next() % 2 == 0 ? clocks[Int(rng.next() % UInt64(clocks.count))] : rng.next()) }
            let e = LedgerEntry(
                entity: part(), id: part(), field: part(), deleteWon: rng.next() % 2 == 0,
                winner: RegisterState(value: .integer(1), clock: clock(), origin: part(), base: .zero),
                loser: RegisterState(value: .null, clock: clock(), origin: part(), base: .zero), resolvedAt: clock())
            #expect(e.key == documentedKey(e), "seed \(seed)")
        }
    }
}
