import ArgumentParser
import Foundation
import KMKBench

/// `kmk-sync bench`: the performance benchmark (BENCHMARKS.md).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure capture, apply, end-to-end sync, history independence, file size and a national night against baselines.",
        discussion: "Run it from a release build. Each line shows our figure, a baseline measured in the same run and their ratio; "
            + "the two sides of every comparison are checked to hold the same data. The full run takes about 5 minutes on two cores; "
            + "--quick about one. The hub runs as a subprocess of this binary on 127.0.0.1."
    )

    @Flag(help: "Smaller sizes: about a minute on two cores.") var quick = false
    @Flag(help: "Print the lines as JSON.") var json = false
    @Option(help: "Run only these benchmarks (comma-separated: P1,P2,…).") var only: String?
    @Option(help: "Keep the files in this folder instead of a temporary one.") var keep: String?
    @Option(help: "P3's changes (default 1,000,000; 50,000 with --quick), e.g. to profile one size.") var changes: Int?
    @Option(help: "P6's syncs at once (default 4).") var concurrency: Int?

    func run() async throws {
        var options = Bench.Options(sizes: quick ? .quick : .full, executable: Bundle.main.executablePath, directory: keep)
        if let changes {
            guard changes >= 100 else { throw ValidationError("--changes must be at least 100") }
            options.sizes.endToEndChanges = changes
        }
        if let concurrency {
            guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1…64") }
            options.sizes.nightConcurrency = concurrency
        }
        options.only = Set((only ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() })
        options.progress = { line in FileHandle.standardError.write(Data("bench: \(line)\n".utf8)) }
        let lines: [BenchLine]
        do {
            lines = try await Bench.run(options)
        } catch let e as BenchError {
            throw CLIFailure(message: e.message, code: Exit.software)
        }
        say(json ? BenchReport.json(lines) : BenchReport.markdown(lines))
    }
}
