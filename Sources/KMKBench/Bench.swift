import Foundation
import KMKModel
import KMKReplica

/// The performance benchmark behind `kmk-sync bench` (BENCHMARKS.md): each measurement runs our
/// code and a plain-SQLite baseline in the same run, checks that both produced the same data,
/// and reports the ratio against the target.
public final class Bench {
    /// How big each benchmark is.
    public struct Sizes: Sendable {
        /// P1: venue rows inserted, then updated (2 fields each).
        public var captureRows: Int
        /// P2: remote row creations merged, then conflicting updates of 2 fields per row.
        public var applyRows: Int
        /// P3: changes pushed to the hub and pulled into a fresh replica.
        public var endToEndChanges: Int
        /// P4: the small history, and how many pulls of 10 changes are timed at each size.
        public var smallHistory: Int
        public var historyPulls: Int
        /// P5: venue rows whose every field is updated 1 and 10 times.
        public var sizeRows: Int
        /// P6: replicas, changes per replica (about), syncs at once.
        public var nightReplicas: Int
        public var nightChangesPerReplica: Int
        public var nightConcurrency: Int
        /// Runs of P1 and P2; the fastest of each side counts.
        public var repetitions: Int

        /// The full benchmark (BENCHMARKS.md): the sizes the issue names.
        public static let full = Sizes(captureRows: 100_000, applyRows: 100_000, endToEndChanges: 1_000_000, smallHistory: 1_000,
                                       historyPulls: 20, sizeRows: 20_000, nightReplicas: 290, nightChangesPerReplica: 1_000,
                                       nightConcurrency: 4, repetitions: 3)
        /// About a minute on two cores.
        public static let quick = Sizes(captureRows: 20_000, applyRows: 10_000, endToEndChanges: 50_000, smallHistory: 1_000,
                                        historyPulls: 10, sizeRows: 2_000, nightReplicas: 290, nightChangesPerReplica: 100,
                                        nightConcurrency: 4, repetitions: 2)
        /// Seconds: for the tests of the checks, no timing meaning.
        public static let tiny = Sizes(captureRows: 30, applyRows: 30, endToEndChanges: 300, smallHistory: 100, historyPulls: 2,
                                       sizeRows: 20, nightReplicas: 3, nightChangesPerReplica: 30, nightConcurrency: 2,
                                       repetitions: 1)
    }

    /// What to run and how.
    public struct Options: Sendable {
        public var sizes: Sizes
        /// The kmk-sync binary, to run the hub as a subprocess; nil runs it in this process.
        public var executable: String?
        /// The folder for the files; nil makes a temporary one, removed at the end.
        public var directory: String?
        /// Which benchmarks to run ("P1" … "P6"); empty runs all.
        public var only: Set<String> = []
        /// Progress lines (the CLI prints them on standard error).
        public var progress: @Sendable (String) -> Void = { _ in }
        /// Starts the hub subprocess (tests pass theirs, which starts one child at a time).
        public var launch: @Sendable (Process) throws -> Void = { try $0.run() }

        public init(sizes: Sizes, executable: String? = nil, directory: String? = nil) {
            self.sizes = sizes
            self.executable = executable
            self.directory = directory
        }
    }

    let options: Options
    let directory: String
    var sizes: Sizes { options.sizes }
    let municipality: Municipality
    private var fileNumber = 0

    private init(options: Options, directory: String) throws {
        self.options = options
        self.directory = directory
        self.municipality = try Municipality.find("0484")
    }

    /// Runs the benchmarks and returns their lines. Throws when a benchmark cannot run or its
    /// two sides did not produce the same data.
    public static func run(_ options: Options) async throws -> [BenchLine] {
        let fm = FileManager.default
        let dir = options.directory ?? fm.temporaryDirectory.appendingPathComponent("kmk-bench-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if options.directory == nil { try? fm.removeItem(atPath: dir) } }
        let bench = try Bench(options: options, directory: dir)
        var lines: [BenchLine] = []
        func wanted(_ id: String) -> Bool { options.only.isEmpty || options.only.contains(id) }
        if wanted("P1") { lines += try bench.capture() }
        if wanted("P2") { lines += try bench.applyBench() }
        if wanted("P3") || wanted("P4") { lines += try await bench.endToEnd(history: wanted("P4"), throughput: wanted("P3")) }
        if wanted("P5") { lines += try bench.size() }
        if wanted("P6") { lines += try await bench.nationalNight() }
        return lines
    }

    /// A new file path in the work folder.
    func newPath(_ name: String) -> String {
        fileNumber += 1
        return (directory as NSString).appendingPathComponent("\(fileNumber)-\(name)")
    }

    func say(_ text: String) { options.progress(text) }

    /// Seconds taken by `body`.
    func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    func time<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try await body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// A fresh replica of the benchmark's municipality.
    func newReplica(_ name: String) throws -> Replica {
        try Replica.create(at: newPath(name + ".kmk"), municipality: municipality)
    }

    /// A plain SQLite file (WAL, like a replica) holding a `venue` table with our columns, CHECK
    /// constraints and indexes, without the change log's register columns and triggers.
    func newPlain(_ name: String) throws -> SQLiteFile {
        let plain = try SQLiteFile(path: newPath(name + ".db"))
        try plain.execute("PRAGMA journal_mode = WAL")
        try plain.execute(Replica.plainTableSQL(.venue))
        return plain
    }

    /// The content hash of the `venue` table of a file (ours or a baseline).
    func venueHash(_ path: String) throws -> TableHash {
        try SQLiteFile(path: path).contentHash(table: "venue", columns: VenueRows.hashColumns)
    }

    /// Throws unless both sides hold the same rows.
    func requireSame(_ what: String, _ ours: TableHash, _ baseline: TableHash, rows: Int) throws -> String {
        guard ours == baseline, ours.rows == rows else {
            throw BenchError("\(what): the two sides differ (ours \(ours), baseline \(baseline), expected \(rows) rows)")
        }
        return "same \(ours)"
    }

    /// Writes records through the replica API in chunks (each one transaction).
    func importChunked(_ replica: Replica, _ records: [Record], chunk: Int = 20_000) throws {
        var start = 0
        while start < records.count {
            let end = min(records.count, start + chunk)
            try replica.importRecords(Array(records[start..<end]), mode: .merge)
            start = end
        }
    }
}
