module github.com/loopml/loopml

go 1.26
