extension Schema {
    /// The data model as Markdown tables: one per entity, a row per field. SPEC.md embeds this
    /// text between `<!-- schema:begin -->` and `<!-- schema:end -->`, and a test keeps them equal.
    public func markdown() -> String {
        var out = "Schema version \(version).\n"
        for e in entities {
            out += "\n#### `\(e.name)` (entity \(e.number), \(e.scope.rawValue))\n\n\(e.summary)"
            out += e.identity == .municipalityCode ? " Its id is the municipality's kommunkod.\n\n" : " Its id is a random UUID.\n\n"
            out += "| # | field | type | required | local-only | meaning |\n|---|---|---|---|---|---|\n"
            for f in e.fields {
                out += "| \(f.number) | `\(f.name)` | \(f.kind.allowed) | \(f.required ? "yes" : "") | "
                    + "\(f.localOnly ? "**yes**" : "") | \(f.summary) |\n"
            }
        }
        return out
    }
}
