import ArgumentParser
import Foundation

/// `kmk-sync`: the offline-first sync engine for Krogar mot knark, on the command line.
@main
struct KMKSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kmk-sync",
        abstract: "Keep a municipality's Krogar mot knark records in a local replica and sync them with the national hub.",
        discussion: Exit.help,
        version: "0.1.0",
        subcommands: [
            InitCommand.self,
            EntityGroup<VenueTag>.self, EntityGroup<TrainingTag>.self, EntityGroup<TrainingVenueTag>.self,
            RoundGroup.self, EntityGroup<ActionTag>.self, EntityGroup<AgreementTag>.self, EntityGroup<DrugTestTag>.self,
            EntityGroup<MeetingTag>.self, EntityGroup<MeetingVenueTag>.self, EntityGroup<CampaignTag>.self,
            EntityGroup<IndicatorTag>.self, EntityGroup<MappingTag>.self, EntityGroup<PoliceContactTag>.self,
            EntityGroup<MunicipalityTag>.self, EntityGroup<CriteriaSetTag>.self, EntityGroup<CriterionTag>.self, CriteriaGroup.self,
            SetCommand.self, DeleteCommand.self, ExportCommand.self, ImportCommand.self, LogCommand.self,
            SchemaCommand.self, ConflictsCommand.self, BundleGroup.self,
            RemoteGroup.self, PushCommand.self, PullCommand.self, SyncCommand.self, StatusCommand.self, HubGroup.self,
            ReportGroup.self, BackupCommand.self, CheckCommand.self, ClockGroup.self, DemoCommand.self,
            BenchCommand.self,
        ]
    )

    /// Runs the command, mapping our errors to a message on stderr and a documented exit code.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if let (message, code) = Exit.classify(error) {
                FileHandle.standardError.write(Data("kmk-sync: error: \(message)\n".utf8))
                Foundation.exit(code)
            }
            exit(withError: error)
        }
    }
}

/// Writes a line to standard output.
func say(_ text: String) {
    print(text)
}
