package household

// DefaultMaxMembers is the default of the most persons a household may hold
// (SAFETYNET_MAX_HOUSEHOLD_MEMBERS). Family households have a handful; collective households
// (集体户) and agencies' placeholder household ids gather more, and are cut off here.
const DefaultMaxMembers = 50

// MaxMembersLimit is the highest cap that can be configured: a household of that many persons,
// each with every fact list full and every identifier at its longest, still encodes to at most
// MaxEncodedSize bytes (TestWorstCaseHouseholdSize builds it through the feed decoder).
const MaxMembersLimit = 80

// MaxEncodedSize bounds the stored form of a household at MaxMembersLimit persons: with the
// changelog record's key and header it stays under kafkaio.MaxBatchBytes (1,000,000 bytes),
// itself under Kafka's default max.message.bytes of 1 MiB.
const MaxEncodedSize = 990_000

// Facts kept per person, over all feeds: the worst case of one person's stored facts.
const FactsPerPerson = keepRegistry + keepEmployment + keepPension + keepDisability + keepAdmissions
