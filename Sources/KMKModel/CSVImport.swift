import Foundation

/// Reads a CSV list (a venue list kept in a spreadsheet) into records, all or nothing.
public enum CSVImport {
    /// The records of a CSV file. Header cells name fields by name or Swedish alias
    /// (case-insensitive; spaces and `-` count as `_`); an optional `id` column gives ids,
    /// otherwise `makeID` does. The first bad row throws `FILE:LINE: field 'NAME': …`.
    public static func records(
        _ text: String, file: String, entity: EntitySpec = .venue, makeID: () -> String
    ) throws(ModelError) -> [Record] {
        let table = try CSVTable.parse(text, file: file)
        func key(_ s: String) -> String {
            s.trimmingCharacters(in: .whitespaces).lowercased()
                .replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
        }
        var lookup: [String: FieldSpec] = [:]
        for f in entity.fields {
            lookup[key(f.name)] = f
            for a in f.aliases { lookup[key(a)] = f }
        }
        var columns: [FieldSpec?] = []  // nil = the id column
        var seen: Set<String> = []
        for h in table.header {
            let k = key(h)
            if k == "id" {
                guard seen.insert("id").inserted else { throw ModelError(.invalidDocument, "\(file):1: column 'id' appears twice") }
                columns.append(nil)
                continue
            }
            guard let f = lookup[k] else {
                let accepted = entity.fields.map { ([$0.name] + $0.aliases).joined(separator: "/") }
                throw ModelError(.invalidDocument, "\(file):1: unknown column '\(h)'; accepted columns: id, "
                    + accepted.joined(separator: ", "))
            }
            guard seen.insert(f.name).inserted else {
                throw ModelError(.invalidDocument, "\(file):1: column '\(h)' is field '\(f.name)', which appears twice")
            }
            columns.append(f)
        }
        var records: [Record] = []
        var idLines: [String: Int] = [:]
        for row in table.rows {
            let at = "\(file):\(row.line)"
            guard row.cells.count == columns.count else {
                throw ModelError(.invalidDocument, "\(at): the row has \(row.cells.count) cells but the header has "
                    + "\(columns.count) columns; check separators and quotes")
            }
            var id: String?
            var fields: [String: Value] = [:]
            for (column, cell) in zip(columns, row.cells) {
                guard let f = column else {
                    let trimmed = cell.trimmingCharacters(in: .whitespaces)
                    if trimmed.isEmpty { continue }
                    guard RecordID.isValid(trimmed) else {
                        throw ModelError(.invalidValue, "\(at): field 'id': '\(cell)' is not a record id; leave it empty for a new one")
                    }
                    id = trimmed.lowercased()
                    continue
                }
                do {
                    let v = try f.parse(cell)
                    if !v.isNull { fields[f.name] = v }
                } catch {
                    throw ModelError(.invalidValue, "\(at): \(error.message)")
                }
            }
            for f in entity.fields where f.required && fields[f.name] == nil {
                throw ModelError(.missingField, "\(at): field '\(f.name)' is required; allowed: \(f.kind.allowed)")
            }
            let recordID = id ?? makeID()
            if let earlier = idLines[recordID] {
                throw ModelError(.invalidDocument, "\(at): id \(recordID) is also on line \(earlier)")
            }
            idLines[recordID] = row.line
            records.append(Record(entity: entity.name, id: recordID, fields: fields))
        }
        return records
    }
}
