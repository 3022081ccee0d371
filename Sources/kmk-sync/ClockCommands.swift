import ArgumentParser
import Foundation
import KMKClient
import KMKModel
import KMKReplica

/// `kmk-sync clock show|repair` (SPEC.md §3).
struct ClockGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clock",
        abstract: "Show the replica's clock, or repair it after this machine's clock was set wrong.",
        subcommands: [ClockShow.self, ClockRepairCommand.self]
    )
}

struct ClockShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the replica's clock and this machine's.")
    @OptionGroup var options: ReplicaOptions

    func run() throws {
        let replica = try options.open()
        let wall = try Environment.wallClock()()
        let clock = try replica.currentClock()
        say("replica clock  \(clock.iso) (\(clock.hex))")
        say("machine clock  \(isoTime(wall))")
        if clock.millis > wall + 60_000 {
            say("the replica's clock is \((clock.millis - wall) / 1000) s ahead of this machine's: if this machine's clock "
                + "was wrong and is now right, run kmk-sync clock repair")
        }
    }
}

struct ClockRepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Re-stamp this replica's unpushed edits whose clocks are in the future, once the machine's clock is right.",
        discussion: """
            When a laptop's date was set ahead, its edits carry clocks the hub refuses (clock_ahead). Fix the \
            machine's clock first, then run this: the edits that never left the replica get a clock of now, \
            and the next sync sends them. Edits already pushed are never re-stamped.
            """
    )
    @OptionGroup var options: ReplicaOptions

    func run() throws {
        let replica = try options.open()
        // Not while a push is under way: it could be sending the very changes being re-stamped.
        let lock = try ReplicaLock(replicaPath: replica.path)
        defer { withExtendedLifetime(lock) {} }
        let r = try replica.repairClock()
        if r.restamped == 0 {
            say("nothing to repair: no unpushed change is ahead of this machine's clock (\(isoTime(try Environment.wallClock()())))")
        } else {
            say("re-stamped \(r.restamped) change\(r.restamped == 1 ? "" : "s") from clocks up to \(r.from?.iso ?? "?") to \(r.to.iso); run kmk-sync sync")
        }
    }
}
