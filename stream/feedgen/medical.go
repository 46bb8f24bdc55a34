package feedgen

// condition is a diagnosis that sends people to hospital, with what a stay typically costs.
type condition struct {
	icd            string
	minAge, maxAge float64
	sex            byte    // 0: either
	rate           float64 // critical: admissions a year while it lasts; common: relative frequency
	cost           float64 // median total cost of one stay, yuan
	los            int     // median length of stay, days
	death          float64 // yearly death hazard added while the condition lasts
}

// criticalConditions are critical illnesses (大病): leukaemia (C91–C95), chronic kidney disease
// stages 4–5 (N18), cancers. Someone diagnosed keeps being admitted.
var criticalConditions = []condition{
	{"C91.0", 0, 40, 0, 3.0, 90000, 25, 0.04},     // acute lymphoblastic leukaemia
	{"C92.0", 0, 120, 0, 3.0, 120000, 28, 0.15},   // acute myeloblastic leukaemia
	{"C92.1", 20, 120, 0, 1.5, 40000, 10, 0.03},   // chronic myeloid leukaemia
	{"C95.9", 0, 120, 0, 2.5, 80000, 20, 0.10},    // leukaemia, unspecified
	{"N18.5", 30, 120, 0, 4.0, 18000, 8, 0.06},    // chronic kidney disease, stage 5
	{"N18.4", 30, 120, 0, 2.0, 12000, 7, 0.03},    // chronic kidney disease, stage 4
	{"C34.9", 45, 120, 0, 2.5, 70000, 14, 0.25},   // lung cancer
	{"C16.9", 45, 120, 0, 2.0, 60000, 14, 0.20},   // stomach cancer
	{"C22.0", 40, 120, 0, 2.0, 70000, 14, 0.30},   // liver cancer
	{"C50.9", 30, 120, 'F', 2.0, 50000, 10, 0.05}, // breast cancer
	{"C18.9", 45, 120, 0, 2.0, 55000, 12, 0.10},   // colon cancer
	{"C53.9", 30, 120, 'F', 2.0, 45000, 12, 0.08}, // cervical cancer
}

// commonConditions are ordinary reasons for a hospital stay.
var commonConditions = []condition{
	{"J18.9", 0, 120, 0, 1.5, 7000, 7, 0},    // pneumonia
	{"J20.9", 0, 15, 0, 1, 3500, 5, 0},       // acute bronchitis
	{"A09.9", 0, 15, 0, 1, 3000, 4, 0},       // gastroenteritis
	{"K35.8", 5, 60, 0, 1, 9000, 5, 0},       // appendicitis
	{"S72.0", 60, 120, 0, 1, 35000, 14, 0},   // fracture of femoral neck
	{"S82.2", 15, 120, 0, 1, 18000, 10, 0},   // fracture of tibia
	{"I63.9", 45, 120, 0, 0.3, 22000, 14, 0}, // cerebral infarction
	{"I25.1", 45, 120, 0, 1, 15000, 8, 0},    // atherosclerotic heart disease
	{"I10", 40, 120, 0, 1, 5000, 6, 0},       // hypertension
	{"E11.9", 35, 120, 0, 1, 6000, 8, 0},     // type 2 diabetes
	{"J44.1", 50, 120, 0, 1, 9000, 10, 0},    // COPD with exacerbation
	{"K80.2", 25, 120, 0, 1, 12000, 7, 0},    // gallstones
	{"N39.0", 0, 120, 0, 1, 4000, 5, 0},      // urinary tract infection
	{"M51.2", 30, 120, 0, 1, 10000, 9, 0},    // disc displacement
	{"N04.9", 5, 120, 0, 1, 9000, 10, 0},     // nephrotic syndrome
	{"O80", 20, 42, 'F', 1, 4500, 3, 0},      // delivery
}

func eligible(c *condition, age float64, sex byte) bool {
	return age >= c.minAge && age < c.maxAge && (c.sex == 0 || c.sex == sex)
}

// pickCritical returns the index of a critical condition that fits the age and sex; children
// mostly get leukaemia.
func (g *Generator) pickCritical(age float64, sex byte) int {
	for {
		i := g.rng.IntN(len(criticalConditions))
		if eligible(&criticalConditions[i], age, sex) {
			return i
		}
	}
}

// pickCommon returns the index of a common condition that fits the age and sex, by frequency.
func (g *Generator) pickCommon(age float64, sex byte) int {
	for {
		i := g.rng.IntN(len(commonConditions))
		c := &commonConditions[i]
		if eligible(c, age, sex) && g.rng.Float64()*1.5 < c.rate {
			return i
		}
	}
}
