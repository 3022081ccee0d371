import ArgumentParser
import Foundation
import KMKClient
import KMKModel
import KMKReplica

/// `kmk-sync report compliance|national` (SPEC.md §12.4).
struct ReportGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Compliance with the KMK criteria: the municipality's own, or national.",
        subcommands: [ComplianceReportCommand.self, NationalReportCommand.self]
    )
}

enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

/// `--as-of DATE`, default today (UTC).
func reportDate(_ text: String?) throws -> ISODate {
    guard let text else { return ISODate(unixMillis: Int64(try Environment.wallClock()())) }
    guard let day = ISODate(text) else { throw CLIFailure.usage("--as-of '\(text)' is not a date; use YYYY-MM-DD, e.g. 2016-12-31") }
    return day
}

struct ComplianceReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compliance",
        abstract: "The municipality's compliance: every venue and the municipality, with reasons. Works offline."
    )
    @OptionGroup var options: ReplicaOptions
    @Option(help: ArgumentHelp("Report date (default: today).", valueName: "YYYY-MM-DD")) var asOf: String?
    @Option(help: "table, json or csv.") var format: ReportFormat = .table

    func run() throws {
        let replica = try options.open()
        guard !replica.municipality.isNational else {
            throw CLIFailure.usage("the national replica holds no municipality's data; use kmk-sync report national --hub URL")
        }
        let report = try replica.complianceReport(asOf: try reportDate(asOf))
        switch format {
        case .json: say(ComplianceJSON.encode(report, pretty: true))
        case .csv: print(ReportPrinter.csv(report), terminator: "")
        case .table: print(ReportPrinter.table(report), terminator: "")
        }
    }
}

struct NationalReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "national",
        abstract: "The national report from the hub (needs a styrgrupp token): every municipality, totals and trend."
    )
    @Option(help: ArgumentHelp("The hub's URL (default: the replica's hub, with --replica).", valueName: "url")) var hub: String?
    @Option(name: .long, help: ArgumentHelp("A replica whose hub to ask.", valueName: "path")) var replica: String?
    @Option(help: ArgumentHelp("Read the styrgrupp token from this file (else $KMK_TOKEN).", valueName: "file")) var tokenFile: String?
    @Option(help: ArgumentHelp("Report date (default: today).", valueName: "YYYY-MM-DD")) var asOf: String?
    @Option(help: "table, json or csv.") var format: ReportFormat = .table

    func run() async throws {
        var url = hub
        if url == nil, let replica { url = try Replica.open(at: replica, busyTimeoutMillis: Environment.busyTimeoutMillis).remoteState().url }
        guard let url else { throw CLIFailure.usage("name the hub: kmk-sync report national --hub http://HOST:PORT") }
        let token = try TokenSource.token(file: tokenFile, environment: Environment.values, replicaPath: replica ?? "kmk-sync")
        let client = try HubClient(url: url, token: token, retry: RetryPolicy(attempts: 3, baseMillis: 500, timeout: 60))
        let day = try reportDate(asOf)
        let text = try await client.getText("/v1/reports/national", query: [URLQueryItem(name: "as_of", value: day.description)])
        let report = try ComplianceJSON.decode(NationalReport.self, from: text)
        switch format {
        case .json: say(ComplianceJSON.encode(report, pretty: true))
        case .csv: print(ReportPrinter.csv(report), terminator: "")
        case .table: print(ReportPrinter.table(report), terminator: "")
        }
    }
}
