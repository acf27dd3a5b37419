# Writes a file into a C source as a byte array (cmake -DIN=FILE -DOUT=FILE.c -DNAME=symbol -P embed.cmake):
#   const char NAME[] = {..., 0}; const size_t NAME_size = <bytes, without the final 0>;
# The web view's page (ui/view.html) is built into the program this way: nothing is read from disk.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp" "/* Generated from ${IN} by cmake/embed.cmake: do not edit. */\n#include <stddef.h>\n"
  "const char ${NAME}[] = {\n${body}0};\nconst size_t ${NAME}_size = ${bytes};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
