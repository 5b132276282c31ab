namespace LispMobility.Lisp;
