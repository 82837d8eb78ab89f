package query_test

import (
	"fmt"

	"github.com/userkit/userkit/query"
)

type person struct {
	email  string
	status string
}

func (p person) Value(field int) query.Value {
	switch field {
	case 0:
		return query.Value{Str: p.email, Null: p.email == ""}
	default:
		return query.Value{Str: p.status}
	}
}

func Example() {
	schema := query.NewSchema(
		query.Field{Name: "email", Kind: query.KindString, Fold: true},
		query.Field{Name: "status", Kind: query.KindEnum, Values: []string{"ACTIVE", "INACTIVE"}},
	)
	q, err := query.Parse(`email eq 'JANE*' AND status ne INACTIVE orderby email DESC`, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q)
	prog, err := query.Compile(q, schema)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range []person{
		{"jane.doe@example.com", "ACTIVE"},
		{"Jane@example.com", "INACTIVE"},
		{"bob@example.com", "ACTIVE"},
		{"", "ACTIVE"},
	} {
		fmt.Printf("%q %v\n", p.email, prog.Match(p))
	}

	_, err = query.Parse(`email == 'x'`, nil)
	fmt.Println(err)
	q, _ = query.Parse(`emial eq 'x'`, nil)
	_, err = query.Compile(q, schema)
	fmt.Println(err)
	// Output:
	// email eq 'JANE*' and status neq INACTIVE orderby email desc
	// "jane.doe@example.com" true
	// "Jane@example.com" false
	// "bob@example.com" false
	// "" false
	// 1:7: expected an operator (eq, neq, lt, le, gt, ge, in) after "email", got "=="
	// 1:1: unknown field "emial"; did you mean "email"?
}
