import KMKModel

extension Replica {
    /// Writes the built-in default criteria set (SPEC.md §12.3) into the styrgrupp's national
    /// replica, in one transaction. Returns false when it is already there.
    public func publishDefaultCriteria() throws -> Bool {
        let set = CriteriaSet.kmkDefault
        return try write {
            if try lifecycle(EntitySpec.criteriaSet, set.id) != nil { return false }
            try insert(EntitySpec.criteriaSet.name, id: set.id, fields: set.fields)
            for c in set.criteria { try insert(EntitySpec.criterion.name, id: c.id, fields: c.fields(setID: set.id)) }
            return true
        }
    }

    /// Copies criteria set `from` into a new version (the highest version + 1, new ids) valid
    /// from `validFrom`, and ends the old set the day before, in one transaction (SPEC.md §12.1).
    public func newCriteriaVersion(from: String, validFrom day: ISODate, name: String?) throws -> (old: CriteriaSet, new: CriteriaSet) {
        let (sets, _) = try criteriaSets()
        guard let old = sets.first(where: { $0.id == from.lowercased() }) else {
            throw ReplicaError(.notFound, "no criteria set \(from) in this replica; see kmk-sync criteria show")
        }
        guard old.validFrom < day else {
            throw ReplicaError(.invalidData, "the new version must start after the old set's first day \(old.validFrom), not \(day)")
        }
        var copy = CriteriaSet(id: RecordID.make(), name: name ?? old.name, version: (sets.map(\.version).max() ?? old.version) + 1,
                               validFrom: day, validUntil: old.validUntil.flatMap { $0 >= day ? $0 : nil }, criteria: [])
        try write {
            try update(EntitySpec.criteriaSet.name, id: old.id, fields: ["valid_until": .text(day.adding(days: -1).description)])
            try insert(EntitySpec.criteriaSet.name, id: copy.id, fields: copy.fields)
            for c in old.criteria {
                var n = c
                n.id = RecordID.make()
                try insert(EntitySpec.criterion.name, id: n.id, fields: n.fields(setID: copy.id))
                copy.criteria.append(n)
            }
        }
        return (old, copy)
    }
}
