import Foundation
import KMKModel

/// Names one entity for the generic porcelain commands (`venue add`, `training list`, ...).
protocol EntityTag {
    /// The entity described in the schema.
    static var spec: EntitySpec { get }
    /// The command name; defaults to the entity name with `-` for `_`.
    static var commandName: String { get }
    /// Other names accepted for the command.
    static var aliases: [String] { get }
}

extension EntityTag {
    static var commandName: String { spec.name.replacingOccurrences(of: "_", with: "-") }
    static var aliases: [String] {
        spec.name.contains("_") ? [spec.name.replacingOccurrences(of: "_", with: "")] : []
    }
}

enum VenueTag: EntityTag { static var spec: EntitySpec { .venue } }
enum TrainingTag: EntityTag { static var spec: EntitySpec { .training } }
enum TrainingVenueTag: EntityTag { static var spec: EntitySpec { .trainingVenue } }
enum RoundTag: EntityTag { static var spec: EntitySpec { .round } }
enum ActionTag: EntityTag { static var spec: EntitySpec { .action } }
enum AgreementTag: EntityTag { static var spec: EntitySpec { .agreement } }
enum DrugTestTag: EntityTag { static var spec: EntitySpec { .drugTest } }
enum MeetingTag: EntityTag { static var spec: EntitySpec { .meeting } }
enum MeetingVenueTag: EntityTag { static var spec: EntitySpec { .meetingVenue } }
enum CampaignTag: EntityTag { static var spec: EntitySpec { .campaign } }
enum IndicatorTag: EntityTag { static var spec: EntitySpec { .indicator } }
enum MappingTag: EntityTag { static var spec: EntitySpec { .mapping } }
enum PoliceContactTag: EntityTag { static var spec: EntitySpec { .policeContact } }
enum MunicipalityTag: EntityTag { static var spec: EntitySpec { .municipality } }
enum CriteriaSetTag: EntityTag { static var spec: EntitySpec { .criteriaSet } }
enum CriterionTag: EntityTag { static var spec: EntitySpec { .criterion } }
