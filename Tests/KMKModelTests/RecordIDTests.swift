import Foundation
import KMKModel
import KMKTestSupport
import Testing

@Suite("Record ids")
struct RecordIDTests {
    @Test("version-7 ids carry their time, are valid lowercase UUIDs, and sort by time as text", arguments: [7, 99, 2026])
    func version7(seed: UInt64) {
        print("RecordIDTests.version7 seed \(seed)")
        var rng = SplitMix64(seed: seed)
        var made: [(millis: UInt64, id: String)] = []
        for _ in 0..<2_000 {
            // Times from 1970 to the 48-bit limit, and many in one millisecond.
            let t = rng.next() % 4 == 0 ? 1_767_225_600_000 : rng.next() & 0xFFFF_FFFF_FFFF
            let id = RecordID.make(millis: t, using: &rng)
            #expect(RecordID.isValid(id) && id.count == 36 && id == id.lowercased(), "\(id)")
            let digits = Array(id)
            #expect(digits[14] == "7", "version digit of \(id)")
            #expect("89ab".contains(digits[19]), "variant digit of \(id)")
            #expect(RecordID.millis(of: id) == t, "\(id) carries \(t)")
            made.append((t, id))
        }
        for (a, b) in zip(made, made.dropFirst()) where a.millis != b.millis {
            #expect((a.millis < b.millis) == (a.id < b.id), "\(a.id) (\(a.millis)) against \(b.id) (\(b.millis))")
        }
        #expect(Set(made.map(\.id)).count == made.count, "no two ids alike")
    }

    @Test("make() stamps the current time; make(using:) stays a random version-4 UUID")
    func nowAndVersion4() {
        let before = UInt64(Date().timeIntervalSince1970 * 1_000)
        let id = RecordID.make()
        let after = UInt64(Date().timeIntervalSince1970 * 1_000)
        let t = RecordID.millis(of: id) ?? 0
        #expect(t >= before && t <= after, "\(id) carries \(t), made between \(before) and \(after)")
        var rng = SplitMix64(seed: 5)
        let v4 = RecordID.make(using: &rng)
        #expect(RecordID.isValid(v4) && Array(v4)[14] == "4" && "89ab".contains(Array(v4)[19]), "\(v4)")
    }
}
