import Foundation
import ArgumentParser
import KMKModel
import KMKReplica

/// `kmk-sync init PATH --municipality CODE`
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new replica file for a municipality. Never overwrites a file."
    )

    @Argument(help: "Where to create the replica file, e.g. eskilstuna.kmk.")
    var path: String

    @Option(help: "The municipality: its kommunkod (0484) or name (Eskilstuna).")
    var municipality: String?

    @Flag(help: "Create the styrgrupp's national replica, which holds and edits national reference data (the criteria) only.")
    var national = false

    func validate() throws {
        guard (municipality == nil) != !national else {
            throw ValidationError("give either --municipality CODE or --national")
        }
    }

    func run() throws {
        let m = try municipality.map { try Municipality.find($0) } ?? .national
        let replica = try Replica.create(at: path, municipality: m, now: try Environment.wallClock())
        say("created replica \(replica.replicaID) for \(m) at \(path)")
        replica.close()
    }
}
