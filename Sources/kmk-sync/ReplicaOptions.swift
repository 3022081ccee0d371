import Foundation
import ArgumentParser
import KMKReplica

/// `--replica PATH`, shared by every command that works on a replica file.
struct ReplicaOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The replica file (default: $KMK_REPLICA).", valueName: "path"))
    var replica: String?

    /// The path given, or $KMK_REPLICA.
    func path() throws -> String {
        if let replica { return replica }
        if let env = Environment.values["KMK_REPLICA"], !env.isEmpty { return env }
        throw CLIFailure.usage("no replica given; pass --replica PATH or set KMK_REPLICA")
    }

    /// Opens the replica.
    func open() throws -> Replica {
        try Replica.open(at: try path(), now: try Environment.wallClock(), busyTimeoutMillis: Environment.busyTimeoutMillis)
    }
}
