/// The benchmark's report as text: one block per line with our figure, the baseline, the
/// ratio and whether the target was met, then how the two sides were checked.
public enum BenchReport {
    /// The report for a terminal or BENCHMARKS.md (a Markdown table).
    public static func markdown(_ lines: [BenchLine]) -> String {
        var out = "| # | what | ours | baseline (same run) | ratio | target | met |\n|---|---|---|---|---|---|---|\n"
        for l in lines {
            let ratio = l.ratio.map { Figure.ratio($0) + " " + l.ratioMeaning } ?? ""
            let met = l.met.map { $0 ? "met" : "**missed**" } ?? ""
            out += "| \(l.id) | \(l.what) | \(l.ours) | \(l.baseline) | \(ratio) | \(l.target) | \(met) |\n"
        }
        out += "\nChecks (both sides of every comparison hold the same data):\n\n"
        for l in lines { out += "- \(l.id) \(l.what): \(l.check)\n" }
        return out
    }

    /// One JSON object per line.
    public static func json(_ lines: [BenchLine]) -> String {
        "[\n" + lines.map { $0.json() }.joined(separator: ",\n") + "\n]"
    }
}
