import ArgumentParser
import Foundation
import KMKModel
import KMKReplica

/// `kmk-sync export [--include-local] [--out FILE]`
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every live record as canonical JSON (sorted, so equal data gives equal bytes)."
    )

    @OptionGroup var options: ReplicaOptions
    @Flag(help: "Include local-only fields (personal data). Leave them out of anything you send.")
    var includeLocal = false
    @Option(help: "Write to this file instead of standard output.") var out: String?

    func run() throws {
        let text = try options.open().export(includeLocal: includeLocal).encoded()
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else {
                throw CLIFailure(message: "cannot write \(out); check the folder exists and is writable", code: Exit.cannotCreate)
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

/// `kmk-sync import FILE`
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an export JSON file, or a CSV venue list. All or nothing.",
        discussion: """
            JSON files are kmk-sync exports: each record is written whole (synced fields it leaves out are cleared). \
            CSV files have a header row of field names (or Swedish headings such as namn;adress;medlemskap), separated \
            by , or ; — only the columns given are written. A bad row is reported with file, line and field, and \
            nothing is written.
            """
    )

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The file to import (.json or .csv).") var file: String
    @Option(help: "json or csv (default: from the file name).") var format: String?
    @Option(help: "For CSV: the entity each row is (default: venue).") var entity = "venue"

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CLIFailure.noInput("cannot read \(file); check the path")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ModelError(.invalidDocument, "\(file) is not UTF-8 text; save it as UTF-8 (in Excel: CSV UTF-8)")
        }
        let kind = (format ?? (file.lowercased().hasSuffix(".csv") ? "csv" : "json")).lowercased()
        let replica = try options.open()
        let result: (created: Int, updated: Int)
        var national = 0
        switch kind {
        case "csv":
            let spec = try Schema.current.entityNamed(entity)
            let records = try CSVImport.records(text, file: file, entity: spec, makeID: { RecordID.make() })
            result = try replica.importRecords(records, mode: .merge)
        case "json":
            let doc = try ExportDocument.decode(text, file: file)
            if let m = doc.municipality, m != replica.municipality.code {
                throw ModelError(.invalidDocument, "\(file) holds records of municipality \(m), but this replica is for "
                    + "\(replica.municipality); import it into a replica of \(m)")
            }
            result = try replica.importRecords(doc.records, mode: .replace)
            national = replica.municipality.isNational ? 0 : doc.records.filter { Schema.current.entity($0.entity)?.scope == .national }.count
        default:
            throw CLIFailure.usage("unknown format '\(kind)'; use json or csv")
        }
        say("imported \(file): \(result.created) created, \(result.updated) updated"
            + (national > 0 ? "; \(national) national records passed over: they come from the hub at the next sync" : ""))
    }
}
