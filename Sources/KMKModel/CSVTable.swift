import Foundation

/// A CSV file read per RFC 4180: a header row and data rows, each with the line it starts on.
///
/// Accepts a UTF-8 byte order mark, CRLF or LF line ends, quoted fields with doubled quotes and
/// embedded separators or newlines, and `;` as separator when the header has more `;` than `,`
/// (Swedish spreadsheets write `;`). Blank lines are skipped.
public struct CSVTable: Hashable, Sendable {
    /// One data row.
    public struct Row: Hashable, Sendable {
        /// The 1-based line the row starts on.
        public let line: Int
        public let cells: [String]
    }

    public let header: [String]
    public let rows: [Row]

    /// Parses CSV text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ModelError) -> CSVTable {
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        let firstLine = scalars.prefix { $0 != "\n" && $0 != "\r" }
        let semicolons = firstLine.filter { $0 == ";" }.count
        let commas = firstLine.filter { $0 == "," }.count
        let separator: Unicode.Scalar = semicolons > commas ? ";" : ","

        var records: [Row] = []
        var cells: [String] = []
        var cell = String.UnicodeScalarView()
        var line = 1
        var rowStart = 1
        var i = 0
        var quoted = false
        var wasQuoted = false
        func endCell() {
            cells.append(String(cell))
            cell = String.UnicodeScalarView()
            wasQuoted = false
        }
        func endRow() {
            endCell()
            if !(cells.count == 1 && cells[0].isEmpty) { records.append(Row(line: rowStart, cells: cells)) }
            cells = []
        }
        var quoteLine = 0
        while i < scalars.count {
            let c = scalars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < scalars.count, scalars[i + 1] == "\"" {
                        cell.append("\"")
                        i += 2
                        continue
                    }
                    quoted = false
                } else {
                    if c == "\n" { line += 1 }
                    if c == "\r", !(i + 1 < scalars.count && scalars[i + 1] == "\n") { line += 1 }
                    cell.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case "\"" where cell.isEmpty && !wasQuoted:
                quoted = true
                wasQuoted = true
                quoteLine = line
            case separator:
                endCell()
            case "\r", "\n":
                if c == "\r", i + 1 < scalars.count, scalars[i + 1] == "\n" { i += 1 }
                endRow()
                line += 1
                rowStart = line
            default:
                cell.append(c)
            }
            i += 1
        }
        if quoted {
            throw ModelError(.invalidDocument, "\(file):\(quoteLine): a quoted field is never closed (missing \")")
        }
        if !cell.isEmpty || !cells.isEmpty { endRow() }
        guard let header = records.first else {
            throw ModelError(.invalidDocument, "\(file): the file is empty; it needs a header row of column names")
        }
        return CSVTable(header: header.cells.map { $0.trimmingCharacters(in: .whitespaces) },
                        rows: Array(records.dropFirst()))
    }
}
