package platform

// Line is the line of the field at path ("spec.sourceGroups[3].cidrs[0]")
// in the model's file, or of its nearest existing ancestor; 0 for models
// built in code. Commands that report on the model (generate's warnings)
// name the line as Validate does.
func (p *Platform) Line(path string) int { return p.line(path) }
