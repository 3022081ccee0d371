import Foundation
import KMKModel

/// The hub dashboard's HTML pages (SPEC.md §12.5): server-rendered, no scripts, no external
/// assets, so it works offline. Pure functions of the reports.
enum Dashboard {
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func share(_ s: Double?) -> String { s.map { "\(Int(($0 * 100).rounded())) %" } ?? "–" }

    static func page(_ title: String, _ body: String) -> String {
        """
        <!doctype html>
        <html lang="sv"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d1d1d;max-width:1200px}
        h1{font-size:1.5rem;margin-bottom:.2rem} .sub{color:#555;margin-top:0}
        table{border-collapse:collapse;margin:1rem 0;width:100%} th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
        th a{color:inherit} td.n,th.n{text-align:right} tr.total td{font-weight:bold;border-top:2px solid #333}
        .green{color:#1b7f3b;font-weight:bold} .orange{color:#c25e00;font-weight:bold} .grey{color:#777}
        .met{color:#1b7f3b} .not_met{color:#b00020} .unknown{color:#777}
        form.inline{display:inline} .note{color:#555;font-size:.9rem}
        </style></head><body>
        \(body)
        </body></html>
        """
    }

    static func login(_ message: String?) -> String {
        page("KMK Sync – logga in", """
            <h1>KMK Sync – nationell översikt</h1>
            <p class="sub">The dashboard is for the styrgrupp. Sign in with a styrgrupp token (kmk-sync hub token create --styrgrupp).</p>
            \(message.map { "<p class=\"not_met\">\(escape($0))</p>" } ?? "")
            <form method="post" action="/login"><label>Token <input type="password" name="token" size="40" autofocus></label>
            <button type="submit">Sign in</button></form>
            """)
    }

    /// The sortable columns of the national table.
    static let columns: [(key: String, title: String)] = [
        ("name", "Municipality"), ("members", "Member venues"), ("green", "Green"), ("share", "Share green"),
        ("trainings", "Trainings this year"), ("trained", "Staff trained this year"), ("meetings", "Meetings this year"),
        ("overdue", "Open overdue actions"), ("criteria", "Municipality criteria"),
    ]

    static func sorted(_ lines: [NationalReport.Line], by key: String, descending: Bool) -> [NationalReport.Line] {
        func less(_ a: NationalReport.Line, _ b: NationalReport.Line) -> Bool {
            let (fa, fb) = (a.figures, b.figures)
            switch key {
            case "members": return fa.memberVenues < fb.memberVenues
            case "green": return fa.compliantVenues < fb.compliantVenues
            case "share": return (fa.share ?? -1) < (fb.share ?? -1)
            case "trainings": return fa.trainingsThisYear < fb.trainingsThisYear
            case "trained": return fa.peopleTrainedThisYear < fb.peopleTrainedThisYear
            case "meetings": return fa.meetingsThisYear < fb.meetingsThisYear
            case "overdue": return fa.openOverdueActions < fb.openOverdueActions
            case "criteria": return (a.meetsCriteria ? 1 : 0, a.missing.count * -1) < (b.meetsCriteria ? 1 : 0, b.missing.count * -1)
            default: return a.name < b.name
            }
        }
        // Stable: ties keep name order.
        let byName = lines.sorted { ($0.name, $0.municipality) < ($1.name, $1.municipality) }
        let indexed = Array(byName.enumerated())
        return indexed.sorted { x, y in
            if less(x.element, y.element) { return !descending }
            if less(y.element, x.element) { return descending }
            return x.offset < y.offset
        }.map(\.element)
    }

    static func national(_ r: NationalReport, sort: String, descending: Bool) -> String {
        let asOf = "as_of=\(r.asOf)"
        var head = ""
        for c in columns {
            let active = c.key == sort
            let nextDesc = active ? !descending : (c.key != "name")
            let arrow = active ? (descending ? " ▼" : " ▲") : ""
            let cls = c.key == "name" || c.key == "criteria" ? "" : " class=\"n\""
            head += "<th\(cls)><a href=\"/?sort=\(c.key)&amp;order=\(nextDesc ? "desc" : "asc")&amp;\(asOf)\">\(escape(c.title))\(arrow)</a></th>"
        }
        var rows = ""
        for m in sorted(r.municipalities, by: sort, descending: descending) {
            rows += row(name: "<a href=\"/municipality/\(m.municipality)?\(asOf)\">\(escape(m.name))</a> <span class=\"grey\">\(m.municipality)</span>",
                        m.figures, criteria: m.meetsCriteria ? "<span class=\"met\">met</span>"
                            : "<span class=\"not_met\">not met:</span> " + escape(m.missing.joined(separator: ", ")))
        }
        rows += row(name: "Sverige (total)", r.totals, criteria: "", cls: "total")
        let chart = trendChart(r.trend, title: "Share of member venues that are green, by year (national)")
        return page("KMK – nationell efterlevnad \(r.asOf)", """
            <h1>Krogar mot knark – national compliance</h1>
            <p class="sub">As of \(escape(r.asOf)) · criteria: \(escape(r.criteria.name)) version \(r.criteria.version)\
            \(r.criteria.builtIn ? " (built-in default)" : "") · \(r.municipalities.count) municipalities
            · <form class="inline" method="get" action="/"><input type="date" name="as_of" value="\(escape(r.asOf))">
            <input type="hidden" name="sort" value="\(escape(sort))"><input type="hidden" name="order" value="\(descending ? "desc" : "asc")">
            <button type="submit">Change date</button></form> · <a href="/logout">Sign out</a></p>
            <table><thead><tr>\(head)</tr></thead><tbody>\(rows)</tbody></table>
            <p class="note">Green: a member venue that meets every mandatory criterion. Trainings, staff trained and meetings count \
            the calendar year up to the report date. Click a column to sort.</p>
            \(chart)
            """)
    }

    static func row(name: String, _ f: MunicipalityFigures, criteria: String, cls: String? = nil) -> String {
        "<tr\(cls.map { " class=\"\($0)\"" } ?? "")><td>\(name)</td><td class=\"n\">\(f.memberVenues)</td><td class=\"n\">\(f.compliantVenues)</td>"
            + "<td class=\"n\">\(share(f.share))</td><td class=\"n\">\(f.trainingsThisYear)</td><td class=\"n\">\(f.peopleTrainedThisYear)</td>"
            + "<td class=\"n\">\(f.meetingsThisYear)</td><td class=\"n\">\(f.openOverdueActions)</td><td>\(criteria)</td></tr>"
    }

    static func municipality(_ r: MunicipalityReport) -> String {
        var crit = ""
        for c in r.results {
            crit += "<tr><td class=\"\(c.outcome.rawValue)\">\(c.outcome.word)</td><td>\(escape(c.code))\(c.mandatory ? "" : " (recommended)")</td>"
                + "<td>\(escape(c.reason))</td></tr>"
        }
        var venues = ""
        for v in r.venues {
            let open = v.results.filter { $0.outcome != .met }
            let reasons = open.isEmpty ? "all criteria met"
                : open.map { "<span class=\"\($0.outcome.rawValue)\">\(escape($0.code)) \($0.outcome.word)\($0.mandatory ? "" : " (recommended)")</span>: \(escape($0.reason))" }
                    .joined(separator: "<br>")
            let statusClass = v.status == .green ? "green" : v.status == .orange ? "orange" : "grey"
            venues += "<tr><td>\(escape(v.name))</td><td class=\"\(statusClass)\">\(v.status.rawValue.replacingOccurrences(of: "_", with: " "))</td><td>\(reasons)</td></tr>"
        }
        let orphans = r.orphans.isEmpty ? "" : "<h2>Orphaned records (listed, not counted)</h2><ul>"
            + r.orphans.map { "<li>\(escape($0.entity)) \(escape($0.id)): its \(escape($0.missing)) no longer exists</li>" }.joined() + "</ul>"
        let f = r.figures
        return page("KMK – \(r.name) \(r.asOf)", """
            <p><a href="/?as_of=\(escape(r.asOf))">← all municipalities</a></p>
            <h1>\(escape(r.name)) (\(r.municipality))</h1>
            <p class="sub">As of \(escape(r.asOf)) · \(f.memberVenues) member venues, \(f.compliantVenues) green (\(share(f.share)))
            · \(f.trainingsThisYear) trainings and \(f.peopleTrainedThisYear) staff trained this year · \(f.meetingsThisYear) meetings
            · \(f.openOverdueActions) open overdue actions</p>
            <h2>Municipality criteria: \(r.meetsCriteria ? "<span class=\"met\">met</span>" : "<span class=\"not_met\">not all met</span>")</h2>
            <table><thead><tr><th>Outcome</th><th>Criterion</th><th>Reason</th></tr></thead><tbody>\(crit)</tbody></table>
            <h2>Venues</h2>
            <table><thead><tr><th>Venue</th><th>Status</th><th>Criteria not met, and why</th></tr></thead><tbody>\(venues)</tbody></table>
            \(orphans)
            \(trendChart(r.trend, title: "Share of member venues that are green, by year"))
            """)
    }

    /// An inline SVG bar chart of the green share per year.
    static func trendChart(_ trend: [YearFigures], title: String) -> String {
        guard !trend.isEmpty else { return "" }
        let barWidth = 36, gap = 10, height = 200, top = 20, bottom = 40, left = 40
        let width = left + trend.count * (barWidth + gap) + gap
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"\(escape(title))\" width=\"\(width)\" "
            + "height=\"\(top + height + bottom)\" viewBox=\"0 0 \(width) \(top + height + bottom)\">"
        svg += "<title>\(escape(title))</title>"
        for pct in [0, 50, 100] {
            let y = top + height - height * pct / 100
            svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width)\" y2=\"\(y)\" stroke=\"#ddd\"/>"
                + "<text x=\"\(left - 6)\" y=\"\(y + 4)\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">\(pct) %</text>"
        }
        for (i, y) in trend.enumerated() {
            let x = left + gap + i * (barWidth + gap)
            let h = Int(((y.share ?? 0) * Double(height)).rounded())
            svg += "<rect x=\"\(x)\" y=\"\(top + height - h)\" width=\"\(barWidth)\" height=\"\(max(h, 0))\" fill=\"#1b7f3b\">"
                + "<title>\(y.year): \(y.compliantVenues) of \(y.memberVenues) green</title></rect>"
            svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(top + height + 16)\" font-size=\"11\" text-anchor=\"middle\">\(y.year)</text>"
            svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(top + height - h - 4)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333\">"
                + "\(y.share.map { "\(Int(($0 * 100).rounded()))" } ?? "–")</text>"
        }
        svg += "</svg>"
        return "<h2>\(escape(title))</h2>\(svg)"
    }
}
