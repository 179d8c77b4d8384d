package main

import "fmt"

//go:noinline
func firnHello(x int) int {
	return x*7 + 1
}

func main() {
	fmt.Println(firnHello(3))
}
