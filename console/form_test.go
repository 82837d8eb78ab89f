package console_test

import (
	"html"
	"net/url"
	"regexp"
)

// formValues returns what a browser would post from the first form of a
// page whose action ends with action: its inputs, textareas, selected
// options and checked boxes.
func formValues(body, action string) url.Values {
	start := regexp.MustCompile(`<form method="post" action="[^"]*` + regexp.QuoteMeta(action) + `"`).FindStringIndex(body)
	if start == nil {
		return nil
	}
	form := body[start[0]:]
	if end := regexp.MustCompile(`</form>`).FindStringIndex(form); end != nil {
		form = form[:end[0]]
	}
	v := url.Values{}
	un := html.UnescapeString
	for _, m := range inputRE.FindAllStringSubmatch(form, -1) {
		v.Add(un(m[1]), un(m[2]))
	}
	for _, m := range checkedRE.FindAllStringSubmatch(form, -1) {
		v.Add(un(m[1]), un(m[2]))
	}
	for _, m := range textareaRE.FindAllStringSubmatch(form, -1) {
		v.Add(un(m[1]), un(m[2]))
	}
	for _, m := range selectRE.FindAllStringSubmatch(form, -1) {
		if o := selectedRE.FindStringSubmatch(m[2]); o != nil {
			v.Add(un(m[1]), un(o[1]))
		} else if o := optionRE.FindStringSubmatch(m[2]); o != nil {
			v.Add(un(m[1]), un(o[1]))
		}
	}
	return v
}

var (
	inputRE    = regexp.MustCompile(`<input type="(?:text|email|tel|hidden|number)"[^>]*? name="([^"]+)" value="([^"]*)"`)
	checkedRE  = regexp.MustCompile(`<input type="checkbox" name="([^"]+)" value="([^"]*)" checked>`)
	textareaRE = regexp.MustCompile(`(?s)<textarea [^>]*?name="([^"]+)"[^>]*>(.*?)</textarea>`)
	selectRE   = regexp.MustCompile(`(?s)<select [^>]*?name="([^"]+)"[^>]*>(.*?)</select>`)
	selectedRE = regexp.MustCompile(`<option value="([^"]*)" selected>`)
	optionRE   = regexp.MustCompile(`<option value="([^"]*)"`)
)
