import KMKModel
import KMKTestSupport
import Testing

@Suite("Hybrid logical clock")
struct HLCTests {
    @Test("tick follows the wall clock forward and counts up when it stalls or goes back")
    func tick() {
        var c = HLC.zero
        c = c.tick(now: 1_000)
        #expect(c == HLC(millis: 1_000, counter: 0))
        c = c.tick(now: 1_000)
        #expect(c == HLC(millis: 1_000, counter: 1))
        c = c.tick(now: 400)  // wall clock went backwards
        #expect(c == HLC(millis: 1_000, counter: 2))
        c = c.tick(now: 2_000)
        #expect(c == HLC(millis: 2_000, counter: 0))
    }

    @Test("a sequence of ticks under a random wall clock never decreases", arguments: [1, 2, 3, 42, 1234])
    func monotonicUnderRandomWall(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var c = HLC.zero
        var now: UInt64 = 1_700_000_000_000
        for _ in 0..<10_000 {
            now = UInt64(Int64(now) + Int64.random(in: -5_000...5_000, using: &rng))
            let next = c.tick(now: now)
            #expect(next > c)
            c = next
        }
    }

    @Test("counter overflow borrows the next millisecond")
    func overflow() {
        let c = HLC(millis: 5, counter: .max)
        #expect(c.tick(now: 5) == HLC(millis: 6, counter: 0))
    }

    @Test("receive takes the larger clock and refuses one too far ahead, naming the origin")
    func receive() throws {
        let local = HLC(millis: 10_000, counter: 3)
        #expect(try local.receive(HLC(millis: 12_000, counter: 7), now: 11_000, maxDrift: 3_600_000, origin: "b")
                == HLC(millis: 12_000, counter: 8))
        #expect(try local.receive(HLC(millis: 9_000, counter: 0), now: 20_000, maxDrift: 3_600_000, origin: "b")
                == HLC(millis: 20_000, counter: 0))
        #expect(try local.receive(HLC(millis: 9_000, counter: 0), now: 9_500, maxDrift: 3_600_000, origin: "b")
                == HLC(millis: 10_000, counter: 4))
        do {
            _ = try local.receive(HLC(millis: 11_000 + 3_600_001, counter: 0), now: 11_000, maxDrift: 3_600_000,
                                  origin: "replica-B")
            Issue.record("should refuse")
        } catch {
            #expect(error.description.contains("replica-B"))
        }
    }

    @Test("hex text form round-trips and sorts like the clock")
    func hex() {
        let a = HLC(millis: 1_763_800_000_000, counter: 2)
        let b = HLC(millis: 1_763_800_000_001, counter: 0)
        #expect(a.hex.count == 16)
        #expect(HLC(hex: a.hex) == a)
        #expect(a.hex < b.hex)
        #expect(HLC(hex: "xyz") == nil)
        #expect(HLC(millis: 0, counter: 0).iso == "1970-01-01T00:00:00.000Z")
        #expect(HLC(millis: HLC.parseTime("2016-04-30T22:15:01.5Z")!, counter: 2).iso == "2016-04-30T22:15:01.500Z+2")
    }

    @Test("times that are not times read as nil, whatever their shape (empty, a bare T, a date with an empty time)")
    func parseTimeRefuses() {
        for text in ["", "T", "TT", "T10:00Z", "2026-11-26T", "2026-11-26TZ", "2026-11-26T10Z", "2026-13-01", "-5", "now"] {
            #expect(HLC.parseTime(text) == nil, "'\(text)'")
        }
        #expect(HLC.parseTime("2026-11-26") == HLC.parseTime("2026-11-26T00:00Z"))
        #expect(HLC.parseTime("1764115200000") == 1_764_115_200_000)
    }
}
