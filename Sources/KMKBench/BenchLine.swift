import KMKModel

/// One line of the benchmark's report: our figure, the baseline measured in the same run, the
/// ratio, the target, and how the two sides were checked to hold the same data.
public struct BenchLine: Sendable {
    /// "P1", "P2", … as in the issue.
    public var id: String
    /// What was measured, in words.
    public var what: String
    /// Our figure, formatted.
    public var ours: String
    /// The baseline's figure, formatted ("" when the line has no baseline of its own).
    public var baseline: String
    /// The ratio the target is stated on, with its meaning (e.g. "x plain SQLite time").
    public var ratio: Double?
    public var ratioMeaning: String
    /// The target, in words ("≤ 2.0x").
    public var target: String
    /// Whether the target was met; nil for lines without a target.
    public var met: Bool?
    /// How both sides were checked to hold the same data.
    public var check: String
    /// The raw figures, for `--json`.
    public var figures: [String: Double]

    /// The line as one JSON object, members in a fixed order.
    public func json() -> String {
        func number(_ x: Double) -> String { x.isFinite ? (x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)) : "null" }
        var parts = [
            "\"id\":" + CanonicalJSON.string(id), "\"what\":" + CanonicalJSON.string(what),
            "\"ours\":" + CanonicalJSON.string(ours), "\"baseline\":" + CanonicalJSON.string(baseline),
            "\"ratio\":" + (ratio.map(number) ?? "null"), "\"ratio_meaning\":" + CanonicalJSON.string(ratioMeaning),
            "\"target\":" + CanonicalJSON.string(target), "\"met\":" + (met.map { $0 ? "true" : "false" } ?? "null"),
            "\"check\":" + CanonicalJSON.string(check),
        ]
        parts.append("\"figures\":{" + figures.keys.sorted().map { CanonicalJSON.string($0) + ":" + number(figures[$0]!) }
            .joined(separator: ",") + "}")
        return "{" + parts.joined(separator: ",") + "}"
    }
}

/// Formats figures for the report.
enum Figure {
    static func seconds(_ s: Double) -> String {
        s < 0.01 ? String(format3(s * 1000)) + " ms" : String(format3(s)) + " s"
    }

    static func rate(_ perSecond: Double, _ unit: String) -> String { grouped(Int(perSecond.rounded())) + " \(unit)/s" }

    static func bytes(_ n: Int64) -> String {
        n >= 10 * 1024 * 1024 ? format3(Double(n) / 1_048_576) + " MiB" : grouped(Int(n)) + " B"
    }

    static func ratio(_ r: Double) -> String { format3(r) + "x" }

    static func grouped(_ n: Int) -> String {
        let digits = Array(String(abs(n)))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Three significant digits, at most three decimals.
    static func format3(_ x: Double) -> String {
        let decimals = x >= 100 ? 0 : x >= 10 ? 1 : x >= 1 ? 2 : 3
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let r = (x * scale).rounded() / scale
        var text = String(r)
        if decimals == 0, text.hasSuffix(".0") { text.removeLast(2) }
        if let dot = text.firstIndex(of: ".") {
            let have = text.distance(from: dot, to: text.endIndex) - 1
            if have < decimals { text += String(repeating: "0", count: decimals - have) }
        }
        return text
    }
}
