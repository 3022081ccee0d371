import KMKReplica

/// How a hub runs: where it listens, its store, and its limits.
public struct HubConfiguration: Sendable {
    /// The hub store file; created when missing.
    public var databasePath: String
    public var host = "127.0.0.1"
    /// 0 binds an ephemeral port.
    public var port = 8080
    /// The most changes one push batch may hold.
    public var maxBatchChanges = 20_000
    /// The most bytes one push body may hold (after gzip decoding).
    public var maxBatchBytes = 8 * 1024 * 1024
    /// The most changes one pull page returns. Each page is one request and one transaction on the
    /// pulling replica: pages of 2,000 made pulling 200,000 changes about a fifth slower than
    /// 5,000, and pages of 10,000 pulled 1,000,001 gzipped changes in about 12% less time than
    /// 5,000 (BENCHMARKS.md, round 9).
    public var pageLimit = 10_000
    /// Clocks further ahead of the hub's wall clock are refused (ms).
    public var maxDrift: UInt64 = Replica.defaultMaxDrift
    /// A connection that sends nothing for this many seconds while its request is unfinished (or
    /// between requests) is closed, so a stalled or malicious client cannot hold it open.
    public var idleTimeoutSeconds: Int64 = 60
    /// Responses at least this big are gzipped when the client accepts gzip.
    public var gzipThreshold = 1_024
    /// Test hooks (`KMK_HUB_FAULT`), see SPEC.md §11.9.
    public var fault: HubFault?

    public init(databasePath: String) {
        self.databasePath = databasePath
    }
}

/// A failure to inject, for tests of interrupted transfers: the hub exits at once, as if killed,
/// at the named point.
public enum HubFault: Hashable, Sendable {
    /// After committing the n-th push batch it applies, before answering.
    case exitAfterPushCommit(Int)
    /// Before answering the n-th pull request.
    case exitBeforePullReply(Int)

    /// Parses `exit-after-push-commit:N` or `exit-before-pull-reply:N`.
    public init?(text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]), n >= 1 else { return nil }
        switch parts[0] {
        case "exit-after-push-commit": self = .exitAfterPushCommit(n)
        case "exit-before-pull-reply": self = .exitBeforePullReply(n)
        default: return nil
        }
    }
}
