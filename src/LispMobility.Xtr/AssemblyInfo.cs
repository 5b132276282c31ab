namespace LispMobility.Xtr;
