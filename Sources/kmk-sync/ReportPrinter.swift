import Foundation
import KMKModel

/// Compliance reports as text tables and CSV.
enum ReportPrinter {
    static func share(_ s: Double?) -> String { s.map { "\(Int(($0 * 100).rounded()))%" } ?? "-" }

    static func criteriaLine(_ c: CriteriaReference) -> String {
        "\(c.name) version \(c.version)" + (c.builtIn ? " (built in: no criteria set from the styrgrupp applies on this date)" : "")
    }

    static func table(_ r: MunicipalityReport) -> String {
        var out = "Compliance of \(r.name) (\(r.municipality)) on \(r.asOf)\nCriteria: \(criteriaLine(r.criteria))\n\n"
        out += "Municipality: " + (r.meetsCriteria ? "meets the mandatory criteria" : "does not meet every mandatory criterion") + "\n"
        var t = TextTable(header: ["outcome", "criterion", "reason"])
        t.maxWidth = 110
        for c in r.results { t.rows.append([c.outcome.word + (c.mandatory ? "" : "*"), c.code, c.reason]) }
        out += t.render() + "\n\n"
        let f = r.figures
        out += "Venues: \(f.memberVenues) member\(f.memberVenues == 1 ? "" : "s"), \(f.compliantVenues) green (\(share(f.share)))\n"
        var v = TextTable(header: ["venue", "status", "criteria not met (reason)"])
        v.maxWidth = 110
        for venue in r.venues {
            let open = venue.results.filter { $0.outcome != .met }
            let first = open.first.map { "\($0.code) \($0.outcome.word)\($0.mandatory ? "" : "*"): \($0.reason)" } ?? "all met"
            v.rows.append([venue.name, venue.status.rawValue.replacingOccurrences(of: "_", with: " "), first])
            for c in open.dropFirst() { v.rows.append(["", "", "\(c.code) \(c.outcome.word)\(c.mandatory ? "" : "*"): \(c.reason)"]) }
        }
        out += v.render() + "\n"
        out += "(* recommended, not needed for green; unknown means data is missing and never counts as met)\n\n"
        out += "This year: \(f.trainingsThisYear) training\(f.trainingsThisYear == 1 ? "" : "s"), \(f.peopleTrainedThisYear) staff trained, "
            + "\(f.meetingsThisYear) meeting\(f.meetingsThisYear == 1 ? "" : "s"); open overdue actions: \(f.openOverdueActions)\n"
        out += "Trend: " + r.trend.map { "\($0.year) \($0.compliantVenues)/\($0.memberVenues)" }.joined(separator: ", ") + "\n"
        if !r.orphans.isEmpty {
            out += "Orphaned records (listed, not counted):\n"
            for o in r.orphans { out += "  \(o.entity) \(o.id): its \(o.missing) no longer exists\n" }
        }
        for p in r.problems { out += "Criteria problem: \(p)\n" }
        return out
    }

    static func csv(_ r: MunicipalityReport) -> String {
        var rows = [["municipality", "subject", "id", "name", "status", "criterion", "mandatory", "outcome", "reason"]]
        for c in r.results {
            rows.append([r.municipality, "municipality", r.municipality, r.name, r.meetsCriteria ? "meets" : "does_not_meet",
                         c.code, c.mandatory ? "yes" : "no", c.outcome.rawValue, c.reason])
        }
        for v in r.venues {
            for c in v.results {
                rows.append([r.municipality, "venue", v.id, v.name, v.status.rawValue, c.code, c.mandatory ? "yes" : "no", c.outcome.rawValue, c.reason])
            }
        }
        return csvText(rows)
    }

    static func table(_ r: NationalReport) -> String {
        var out = "National compliance on \(r.asOf)\nCriteria: \(criteriaLine(r.criteria))\n\n"
        var t = TextTable(header: ["municipality", "code", "members", "green", "share", "trainings", "trained", "meetings",
                                   "overdue actions", "municipality criteria"])
        for m in r.municipalities {
            let f = m.figures
            t.rows.append([m.name, m.municipality, "\(f.memberVenues)", "\(f.compliantVenues)", share(f.share), "\(f.trainingsThisYear)",
                           "\(f.peopleTrainedThisYear)", "\(f.meetingsThisYear)", "\(f.openOverdueActions)",
                           m.meetsCriteria ? "met" : "not met: " + m.missing.joined(separator: ", ")])
        }
        let f = r.totals
        t.rows.append(["Total", "", "\(f.memberVenues)", "\(f.compliantVenues)", share(f.share), "\(f.trainingsThisYear)",
                       "\(f.peopleTrainedThisYear)", "\(f.meetingsThisYear)", "\(f.openOverdueActions)", ""])
        t.maxWidth = 80
        out += t.render() + "\n(trainings, trained and meetings: this calendar year up to the report date)\n\n"
        out += "Trend (green of member venues at the end of each year):\n"
        for y in r.trend { out += "  \(y.year)  \(y.compliantVenues)/\(y.memberVenues)  \(share(y.share))\n" }
        return out
    }

    static func csv(_ r: NationalReport) -> String {
        var rows = [["municipality", "name", "member_venues", "compliant_venues", "share", "trainings_this_year",
                     "people_trained_this_year", "meetings_this_year", "open_overdue_actions", "meets_criteria"]]
        func line(_ code: String, _ name: String, _ f: MunicipalityFigures, _ meets: String) -> [String] {
            [code, name, "\(f.memberVenues)", "\(f.compliantVenues)", f.share.map { String(format: "%.4f", $0) } ?? "",
             "\(f.trainingsThisYear)", "\(f.peopleTrainedThisYear)", "\(f.meetingsThisYear)", "\(f.openOverdueActions)", meets]
        }
        for m in r.municipalities { rows.append(line(m.municipality, m.name, m.figures, m.meetsCriteria ? "yes" : "no")) }
        rows.append(line("total", "Sverige", r.totals, ""))
        return csvText(rows)
    }

    /// RFC 4180 CSV, CRLF line ends.
    static func csvText(_ rows: [[String]]) -> String {
        rows.map { row in
            row.map { cell in
                cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                    ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
            }.joined(separator: ",")
        }.joined(separator: "\r\n") + "\r\n"
    }
}
