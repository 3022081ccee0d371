import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

@Suite("Replica clock")
struct ReplicaClockTests {
    @Test("clocks stay monotonic when the wall clock goes backwards, also across reopening")
    func monotonicAcrossRestart() throws {
        let dir = try TempDir()
        let path = dir.path("a.kmk")
        let clock = ManualClock("2026-05-01T12:00:00Z")
        var r = try Replica.create(at: path, municipality: eskilstuna, now: clock.clock)
        let id = try r.insert("venue", fields: ["name": .text("A"), "membership": .text("member")])
        var last = try r.log(limit: 1)[0].change.clock
        r.close()
        // The wall clock jumps back a day, then moves forward a little at a time.
        clock.advance(seconds: -86_400)
        for i in 0..<5 {
            r = try Replica.open(at: path, now: clock.clock)
            try r.update("venue", id: id, fields: ["staff_count": .integer(Int64(i))])
            let c = try r.log(limit: 1)[0].change.clock
            #expect(c > last, "clock \(c) after \(last)")
            #expect(c.millis == last.millis, "keeps the last wall time while the wall clock is behind")
            last = c
            r.close()
            clock.advance(seconds: 1)
        }
        // Once the wall clock passes the last clock again, it follows the wall clock.
        clock.advance(seconds: 2 * 86_400)
        r = try Replica.open(at: path, now: clock.clock)
        try r.update("venue", id: id, fields: ["staff_count": .integer(99)])
        #expect(try r.log(limit: 1)[0].change.clock == HLC(millis: clock.millis, counter: 0))
    }
}
