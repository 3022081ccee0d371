import Foundation
import KMKBench
import KMKTestSupport
import Testing

/// The benchmark's correctness checks at a tiny size: every comparison's two sides must hold the
/// same data (the bench throws otherwise). Timings are printed by the bench, never asserted.
@Suite struct BenchCheckTests {

    @Test func everyBenchmarkRunsAndBothSidesAgree() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kmk-bench-test-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The hubs run as `kmk-sync hub serve` subprocesses, as in `kmk-sync bench`: a hub inside
        // this test process would share its signals with every other test running beside it.
        var options = Bench.Options(sizes: .tiny, executable: KMKSyncBinary.path, directory: dir)
        options.launch = { try ChildProcess.run($0) }
        let lines = try await Bench.run(options)
        #expect(lines.map(\.id) == ["P1", "P1", "P1", "P2", "P2", "P3", "P3", "P4", "P5", "P5", "P6"])
        for line in lines {
            #expect(!line.check.isEmpty, "\(line.id) \(line.what) has no check")
            #expect(line.ratio.map { $0.isFinite && $0 > 0 } ?? true, "\(line.id) \(line.what)")
        }
        // Bytes on the wire: with gzip, both ways are compressed and counted as sent (URLSession
        // hands a gzipped body over decompressed; counting that overstated the pull's bytes 10x).
        let p3 = lines.filter { $0.id == "P3" }
        if p3.count == 2, let on = p3[0].figures["bytes_per_change"], let off = p3[1].figures["bytes_per_change"] {
            print("P3 bytes per change: gzip on \(on), off \(off)")
            #expect(on < off / 3, "gzip on \(on) B/change, off \(off)")
        } else {
            Issue.record("P3 should report bytes per change with gzip on and off")
        }
        #expect(BenchReport.markdown(lines).contains("| P6 |"))
        #expect(BenchReport.json(lines).hasPrefix("[\n{\"id\":\"P1\""))
    }
}
